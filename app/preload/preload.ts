/**
 * The desktop shell's bridge into the page: one named function per call, nothing else (no
 * ipcRenderer, no generic send). The main process checks where every call comes from.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

/** What the page sees as `window.dpulab`. */
const bridge = {
  /** Asks where to save, then writes the report text there; whether it did. */
  saveReport: (text: string): Promise<boolean> => ipcRenderer.invoke('dpulab:save-report', String(text)) as Promise<boolean>,
  /** Asks for a recorded run (.db) and reopens the window on it; whether it did. */
  openDatabase: (): Promise<boolean> => ipcRenderer.invoke('dpulab:open-database') as Promise<boolean>,
  /**
   * The UI server's stream (what `/api/stream` carries over a WebSocket in a browser): every
   * message to `onMessage` until the returned function is called.
   */
  openStream: (onMessage: (message: unknown) => void, onConnection: (connected: boolean) => void): (() => void) => {
    const listener = (_event: IpcRendererEvent, message: unknown): void => onMessage(message);
    ipcRenderer.on('dpulab:stream', listener);
    ipcRenderer.send('dpulab:stream-open');
    onConnection(true);
    return () => {
      ipcRenderer.removeListener('dpulab:stream', listener);
      ipcRenderer.send('dpulab:stream-close');
      onConnection(false);
    };
  },
};

contextBridge.exposeInMainWorld('dpulab', bridge);
