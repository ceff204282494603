import { describe, expect, it } from 'vitest';
import { Vmxnet3Device } from './device.js';
import type { RxDelivered } from './device.js';
import { Vmxnet3Driver } from './driver.js';
import { Vmxnet3Error } from './errors.js';
import type { Vmxnet3ErrorCode } from './errors.js';
import { BAR0, BAR1, CMD, ECR, LINK_UP_10G, RX_MODE, SHARED_MAGIC, imrRegister, macToRegisters, txprodRegister } from './registers.js';
import { RIG_MAC, Rig } from './testing.js';

function codeOf(fn: () => unknown): Vmxnet3ErrorCode | 'no error' {
  try {
    fn();
  } catch (error) {
    if (error instanceof Vmxnet3Error) return error.code;
    throw error;
  }
  return 'no error';
}

function delivered(result: ReturnType<Vmxnet3Device['deliverRx']>): RxDelivered {
  if ('dropped' in result) throw new Error(`Frame dropped: ${result.dropped}`);
  return result;
}

describe('Vmxnet3Device registers and commands', () => {
  it('Vmxnet3Device reports its permanent MAC, a 10G link and its supported revisions', () => {
    const device = new Vmxnet3Device('00:50:56:AB:CD:EF');
    const { macl, mach } = macToRegisters('00:50:56:ab:cd:ef');
    expect(device.readCommandResult(CMD.GET_PERM_MAC_LO)).toBe(macl);
    expect(device.readCommandResult(CMD.GET_PERM_MAC_HI)).toBe(mach);
    expect(macl).toBe(0xab565000);
    expect(mach).toBe(0xefcd);
    expect(device.readCommandResult(CMD.GET_LINK)).toBe(LINK_UP_10G);
    expect(LINK_UP_10G).toBe(0x27100001);
    expect(device.readRegister(1, BAR1.VRRS)).toBe(0x7f);
    device.writeRegister(1, BAR1.CMD, CMD.GET_LINK);
    expect(device.readRegister(1, BAR1.CMD)).toBe(LINK_UP_10G);
  });

  it('Vmxnet3Device uses the MAC the driver writes, and GET_PERM_MAC still reports the permanent one', () => {
    const device = new Vmxnet3Device('00:50:56:00:00:01');
    const { macl, mach } = macToRegisters('02:00:00:00:00:09');
    device.writeRegister(1, BAR1.MACL, macl);
    device.writeRegister(1, BAR1.MACH, mach);
    expect(device.mac).toBe('02:00:00:00:00:09');
    expect(device.readCommandResult(CMD.GET_PERM_MAC_LO)).toBe(macToRegisters('00:50:56:00:00:01').macl);
  });

  it('Vmxnet3Device refuses unknown offsets, read-only registers and unknown commands with stable codes', () => {
    const device = new Vmxnet3Device(RIG_MAC);
    expect(codeOf(() => device.writeRegister(1, 0x24, 1))).toBe('unknown-register');
    expect(codeOf(() => device.writeRegister(1, 0x200, 1))).toBe('unknown-register');
    expect(codeOf(() => device.writeRegister(0, 0x604, 1))).toBe('unknown-register');
    expect(codeOf(() => device.writeRegister(0, BAR0.TXPROD + 8 * 8, 1))).toBe('unknown-register');
    expect(codeOf(() => device.writeRegister(1, BAR1.ICR, 1))).toBe('read-only-register');
    expect(codeOf(() => device.writeRegister(1, BAR1.DCR + 8, 1))).toBe('read-only-register');
    expect(codeOf(() => device.writeRegister(1, BAR1.CMD, CMD.LOAD_PLUGIN))).toBe('unknown-command');
    expect(codeOf(() => device.writeRegister(1, BAR1.CMD, 0x12345678))).toBe('unknown-command');
    expect(codeOf(() => device.readCommandResult(CMD.ACTIVATE_DEV))).toBe('unknown-command');
    expect(codeOf(() => device.writeRegister(1, BAR1.VRRS, 0x3))).toBe('bad-value');
    expect(codeOf(() => device.writeRegister(1, BAR1.DSAL, -1))).toBe('bad-value');
  });

  it('Vmxnet3Device refuses a driver-shared area with a bad magic or MTU, listing every problem', () => {
    const driver = new Vmxnet3Driver();
    const shared = driver.probe(RIG_MAC, 1500, { tx: 1, rx: 1 }, { tx: 32, rx1: 32, rx2: 32 });
    const device = new Vmxnet3Device(RIG_MAC);
    try {
      device.activate({ ...shared, magic: 0xdeadbeef, mtu: 9600 });
      expect.unreachable();
    } catch (error) {
      expect((error as Vmxnet3Error).code).toBe('bad-shared-area');
      expect((error as Vmxnet3Error).problems).toEqual(['magic: 0xdeadbeef is not 0xbabefee1', 'mtu: 9600 is outside 60..9000']);
    }
    expect(device.status).toBe('reset');
    expect(codeOf(() => device.writeRegister(1, BAR1.CMD, CMD.ACTIVATE_DEV))).toBe('no-shared-area');
    device.activate(shared);
    expect(device.status).toBe('active');
    expect(codeOf(() => device.activate(shared))).toBe('already-active');
    expect(SHARED_MAGIC).toBe(0xbabefee1);
  });

  it('Vmxnet3Device refuses DMA when inactive, quiesced by the guest or drained for a hand-off', () => {
    const fresh = new Vmxnet3Device(RIG_MAC);
    expect(codeOf(() => fresh.consumeTx(0))).toBe('inactive');
    expect(fresh.deliverRx(0, 100, RIG_MAC)).toEqual({ dropped: 'inactive' });

    const rig = new Rig();
    rig.transmit(0, 100);
    rig.device.drain();
    expect(codeOf(() => rig.consume(0))).toBe('quiesced');
    expect(rig.device.deliverRx(0, 100, RIG_MAC)).toEqual({ dropped: 'quiesced' });
    rig.device.resume();
    expect(rig.consume(0)).toEqual({ index: 0, gen: 1 });

    rig.device.writeRegister(1, BAR1.CMD, CMD.QUIESCE_DEV);
    expect(rig.device.status).toBe('quiesced');
    expect(codeOf(() => rig.device.consumeTx(0))).toBe('quiesced');
    expect(rig.device.counters().rxDrops).toEqual({ 'no-buffer': 0, filtered: 0, quiesced: 1, inactive: 0, 'too-long': 0 });
  });
});

describe('Vmxnet3Device TX', () => {
  it('Vmxnet3Device consumes only what a doorbell announced, in order', () => {
    const rig = new Rig();
    expect(rig.device.consumeTx(0)).toBeNull();
    const d = rig.driver.transmit(0, 200);
    // Descriptor written in guest memory, doorbell not rung yet.
    expect(codeOf(() => rig.device.consumeTx(0, d))).toBe('bad-doorbell');
    rig.device.writeRegister(0, txprodRegister(0), d.txprod);
    expect(rig.device.pendingTx(0)).toBe(1);
    expect(codeOf(() => rig.device.consumeTx(0, { ...d, index: 1 }))).toBe('out-of-order');
    expect(rig.device.consumeTx(0, d)).toEqual({ index: 0, gen: 1 });
    expect(rig.device.consumeTx(0)).toBeNull();
    expect(rig.device.counters()).toMatchObject({ txFrames: 1, txBytes: 200 });
  });

  it('Vmxnet3Device stops the queue and raises TQERR on a descriptor with the wrong generation bit', () => {
    const rig = new Rig();
    const d = rig.transmit(0, 100)!;
    expect(codeOf(() => rig.device.consumeTx(0, { ...d, gen: 0 }))).toBe('bad-gen');
    expect(rig.device.readRegister(1, BAR1.ECR) & ECR.TQERR).toBe(ECR.TQERR);
    expect(rig.device.readCommandResult(CMD.GET_QUEUE_STATUS)).toBe(0b1);
    // The event vector (2: after TX vector 0 and RX vector 1) is pending; the next unmask signals it.
    expect(rig.device.readRegister(1, BAR1.ICR)).toBe(0b100);
    expect(rig.device.writeRegister(0, imrRegister(2), 0)).toBe(2);
    expect(codeOf(() => rig.consume(0))).toBe('queue-stopped');
    // The driver acknowledges the event; the queue stays stopped until RESET/ACTIVATE.
    rig.device.writeRegister(1, BAR1.ECR, ECR.TQERR);
    expect(rig.device.readRegister(1, BAR1.ECR)).toBe(0);
    expect(codeOf(() => rig.consume(0))).toBe('queue-stopped');
  });

  it('Vmxnet3Device refuses a doorbell that would overrun descriptors it still owns', () => {
    const rig = new Rig({ ringSizes: { tx: 32, rx1: 32, rx2: 32 } });
    expect(codeOf(() => rig.device.writeRegister(0, txprodRegister(0), 32))).toBe('bad-doorbell');
    rig.device.writeRegister(0, txprodRegister(0), 31);
    expect(rig.device.pendingTx(0)).toBe(31);
    // Going back to 0 would announce a 32nd descriptor: a full ring that looks empty.
    expect(codeOf(() => rig.device.writeRegister(0, txprodRegister(0), 0))).toBe('bad-doorbell');
  });

  it('Vmxnet3Device completes consumed descriptors one completion entry each, and only those', () => {
    const rig = new Rig();
    for (let i = 0; i < 3; i++) rig.transmit(0, 100);
    rig.consume(0);
    rig.consume(0);
    expect(codeOf(() => rig.device.completeTx(0, 2))).toBe('bad-completion');
    const done = rig.device.completeTx(0, 1);
    expect(done).toMatchObject({ queue: 0, index: 1, gen: 1, upTo: 1, count: 2 });
    expect(codeOf(() => rig.device.completeTx(0, 1))).toBe('bad-completion');
    expect(rig.driver.onTxCompletion(0, done.index, done.gen)).toBe(2);
    expect(rig.driver.txOutstanding(0)).toBe(1);
  });
});

describe('Vmxnet3Device RX', () => {
  it('Vmxnet3Device filters by unicast, broadcast, multicast table, all-multicast and promiscuous mode', () => {
    const rig = new Rig();
    const d = rig.device;
    expect(d.accepts(RIG_MAC)).toBe(true);
    expect(d.accepts('00:50:56:80:00:02')).toBe(false);
    expect(d.accepts('ff:ff:ff:ff:ff:ff')).toBe(true);
    expect(d.accepts('33:33:00:00:00:01')).toBe(false);

    const update = (cmd: number): void => {
      d.syncSharedArea(rig.driver.shared());
      d.writeRegister(1, BAR1.CMD, cmd);
    };
    update(rig.driver.setMulticast(['33:33:00:00:00:01']));
    // The group is in the table but MCAST is not set yet.
    expect(d.accepts('33:33:00:00:00:01')).toBe(false);
    update(rig.driver.setRxMode(RX_MODE.UCAST | RX_MODE.BCAST | RX_MODE.MCAST));
    expect(d.accepts('33:33:00:00:00:01')).toBe(true);
    expect(d.accepts('33:33:00:00:00:02')).toBe(false);
    update(rig.driver.setRxMode(RX_MODE.UCAST | RX_MODE.ALL_MULTI));
    expect(d.accepts('33:33:00:00:00:02')).toBe(true);
    expect(d.accepts('ff:ff:ff:ff:ff:ff')).toBe(false);
    update(rig.driver.setRxMode(RX_MODE.PROMISC));
    expect(d.accepts('00:50:56:80:00:02', 77)).toBe(true);
    expect(rig.mismatches()).toEqual([]);
  });

  it('Vmxnet3Device admits only VLANs in the filter table, untagged frames as VLAN 0', () => {
    const rig = new Rig();
    expect(rig.device.accepts(RIG_MAC, null)).toBe(true);
    expect(rig.device.accepts(RIG_MAC, 10)).toBe(false);
    rig.driver.setVlan(10, true);
    rig.device.syncSharedArea(rig.driver.shared());
    // Read but not applied until UPDATE_VLAN_FILTERS.
    expect(rig.device.accepts(RIG_MAC, 10)).toBe(false);
    rig.device.writeRegister(1, BAR1.CMD, CMD.UPDATE_VLAN_FILTERS);
    expect(rig.device.accepts(RIG_MAC, 10)).toBe(true);
    expect(rig.device.deliverRx(0, 100, RIG_MAC, 11)).toEqual({ dropped: 'filtered' });
  });

  it('Vmxnet3Device writes frames into posted buffers, ring 2 for jumbo frames, and counts every drop', () => {
    const rig = new Rig({ mtu: 9000 });
    expect(rig.receive(0, 100)).toEqual({ dropped: 'no-buffer' });
    rig.post(0, 1, 2);
    rig.post(0, 2, 1);
    const small = delivered(rig.receive(0, 1514));
    expect(small).toMatchObject({ ring: 1, index: 0, gen: 1, compIndex: 0, compGen: 1 });
    const jumbo = delivered(rig.receive(0, 9000));
    expect(jumbo).toMatchObject({ ring: 2, index: 0, gen: 1, compIndex: 1, compGen: 1 });
    expect(rig.receive(0, 9000)).toEqual({ dropped: 'no-buffer' });
    expect(rig.receive(0, 9100)).toEqual({ dropped: 'too-long' });
    expect(rig.receive(0, 100, '00:50:56:80:00:99')).toEqual({ dropped: 'filtered' });
    expect(rig.device.counters()).toMatchObject({ rxFrames: 2, rxBytes: 10514, rxDrops: { 'no-buffer': 2, filtered: 1, 'too-long': 1, quiesced: 0, inactive: 0 } });
    expect(rig.takeRx(0)).toBe(true);
    expect(rig.takeRx(0)).toBe(true);
    expect(rig.mismatches()).toEqual([]);
  });
});

describe('Vmxnet3Device interrupts', () => {
  it('Vmxnet3Device masks a vector when it fires and signals a pending event when the driver unmasks it', () => {
    const rig = new Rig();
    const txVector = 0;
    rig.transmit(0, 100);
    rig.transmit(0, 100);
    rig.consume(0);
    expect(rig.complete(0)!.interrupt).toBe(txVector);
    rig.consume(0);
    // Auto-masked: the second completion waits behind the mask.
    expect(rig.complete(0)!.interrupt).toBeNull();
    expect(rig.device.readRegister(1, BAR1.ICR)).toBe(0b1);
    expect(rig.device.readRegister(0, imrRegister(txVector))).toBe(1);
    expect(rig.device.writeRegister(0, imrRegister(txVector), 0)).toBe(txVector);
    expect(rig.device.readRegister(1, BAR1.ICR)).toBe(0);
    expect(rig.device.snapshot().interrupts.fired).toBe(2);
  });

  it('Vmxnet3Device drain writes the outstanding completions and keeps their interrupt for after resume', () => {
    const rig = new Rig();
    for (let i = 0; i < 3; i++) rig.transmit(0, 100);
    rig.consume(0);
    rig.consume(0);
    const done = rig.device.drain();
    expect(done).toEqual([{ queue: 0, index: 1, gen: 1, upTo: 1, count: 2, interrupt: null }]);
    expect(rig.device.pendingTx(0)).toBe(1);
    expect(rig.device.resume()).toEqual([0]);
  });

  it('Vmxnet3Device signals a link change through ECR and the event vector', () => {
    const rig = new Rig({ queues: { tx: 2, rx: 3 } });
    const eventVector = 5;
    expect(rig.device.setLink(false)).toBe(eventVector);
    expect(rig.device.readCommandResult(CMD.GET_LINK)).toBe(0);
    expect(rig.device.readRegister(1, BAR1.ECR)).toBe(ECR.LINK);
    // The guest has not read the link yet: the pending event explains the difference.
    expect(rig.mismatches()).toEqual([]);
    rig.device.writeRegister(1, BAR1.ECR, ECR.LINK);
    expect(rig.mismatches()).toEqual(['Link: the guest read up at 10000 Mb/s, the device reports down and signalled no link event']);
    rig.driver.onLink(rig.device.readCommandResult(CMD.GET_LINK));
    expect(rig.mismatches()).toEqual([]);
  });
});
