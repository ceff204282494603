/**
 * The desktop shell: the same UI `dpulab ui` serves, in a window, with no HTTP at all. The page
 * is served by the shell's own `dpulab://app/` protocol; its `/api/*` calls and its stream go over
 * IPC to a UI server child (`dpulab ui --ipc`), so no port is open for another process or user to
 * find. Every Electron hardening is on (docs/security.md goes through the checklist):
 *
 * - contextIsolation, sandbox, no nodeIntegration, webSecurity on, no webviews, no new windows;
 * - navigation anywhere but `dpulab://app/` is denied; permission requests and checks refused;
 * - the preload exposes one named function per call, and every IPC handler checks that the
 *   calling frame is the app's page;
 * - fuses (electron-builder.yml) turn off running as Node, NODE_OPTIONS and the inspector flags,
 *   and make the app load only from its integrity-checked asar;
 * - "open database" starts the new server first and keeps the old one until the new one is up;
 * - the server child is stopped when the app quits.
 *
 * The server child: in development the system's Node (the native addons are built for it;
 * DPULAB_NODE picks another) through `child_process.fork`; packaged, an Electron utility process,
 * which needs no ELECTRON_RUN_AS_NODE. A packaged app runs its labs in-process (every core in the
 * server child, the same log as separate processes): with the RunAsNode fuse off, the Electron
 * binary cannot start node processes.
 */
import { app, BrowserWindow, dialog, ipcMain, protocol, session, utilityProcess, type IpcMainEvent, type IpcMainInvokeEvent, type WebContents } from 'electron';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APP_SCHEME, APP_URL, createAppProtocolHandler, isAppUrl } from './app-protocol.js';
import { forkLink, UiServerSwitch, type ChildLink } from './ui-child.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The compiled command line, beside this file in dist/app/. */
const CLI = join(here, '..', 'cli', 'main.js');
/** The preload, bundled into one CommonJS file by the build (a sandboxed preload cannot import). */
const PRELOAD = join(here, '..', 'preload', 'preload.cjs');
/** The bundled renderer. */
const STATIC_DIR = join(here, '..', 'server', 'static');
/** Largest report the renderer may ask to save. */
const MAX_REPORT_BYTES = 5 * 1024 * 1024;

const servers = new UiServerSwitch();
let mainWindow: BrowserWindow | null = null;
/** Open streams, per page, so a reload or a closed window ends them. */
const streams = new Map<number, () => void>();
/** Pages whose end is watched. */
const watched = new Set<number>();

// Before the app is ready: the page's scheme is a secure, standard one that fetch may use.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

/** How to start `dpulab ui --ipc ARGS`: a Node fork in development, a utility process packaged. */
function serverChild(args: readonly string[]): () => ChildLink {
  if (!app.isPackaged) return () => forkLink(CLI, ['ui', '--ipc', ...args], process.env.DPULAB_NODE ?? 'node');
  return () => {
    const child = utilityProcess.fork(CLI, ['ui', '--ipc', '--in-process', ...args], { serviceName: 'dpulab UI server', stdio: 'inherit' });
    return {
      postMessage: (m) => child.postMessage(m),
      onMessage: (l) => child.on('message', l),
      onExit: (l) => child.once('exit', (code) => l(`code ${String(code)}`)),
      // A utility process has no signals to choose from: kill() ends it.
      kill: () => child.kill(),
    };
  };
}

/** Whether an IPC call comes from the app's own page (not some other content). */
function trusted(event: IpcMainInvokeEvent | IpcMainEvent): boolean {
  return isAppUrl(event.senderFrame?.url);
}

/**
 * Shows the run `args` describe: its server is started first; only once it is up does the
 * window switch to it and the old one stop. If it fails, the window stays on the old one.
 */
async function show(args: readonly string[]): Promise<void> {
  await servers.switchTo(serverChild(args));
  for (const stop of streams.values()) stop();
  streams.clear();
  await mainWindow?.loadURL(APP_URL);
}

function createWindow(): BrowserWindow {
  const window = new BrowserWindow({
    width: 1600,
    height: 1000,
    title: 'dpulab',
    backgroundColor: '#0a111d',
    webPreferences: {
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
      preload: PRELOAD,
    },
  });
  window.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  window.webContents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  window.webContents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  window.on('closed', () => {
    mainWindow = null;
  });
  return window;
}

/** Ends the stream a page opened (a reload, a closed window). */
function endStream(contents: WebContents): void {
  streams.get(contents.id)?.();
  streams.delete(contents.id);
}

ipcMain.on('dpulab:stream-open', (event) => {
  if (!trusted(event)) return;
  const contents = event.sender;
  endStream(contents);
  const server = servers.active;
  if (server === null) return;
  streams.set(
    contents.id,
    server.subscribe((message) => {
      if (!contents.isDestroyed()) contents.send('dpulab:stream', message);
    }),
  );
  // A reload opens a new stream, which ends the old one above; a closed page ends its own.
  if (!watched.has(contents.id)) {
    watched.add(contents.id);
    contents.once('destroyed', () => {
      endStream(contents);
      watched.delete(contents.id);
    });
  }
});

ipcMain.on('dpulab:stream-close', (event) => {
  if (trusted(event)) endStream(event.sender);
});

ipcMain.handle('dpulab:save-report', async (event, text: unknown) => {
  if (!trusted(event) || typeof text !== 'string' || Buffer.byteLength(text) > MAX_REPORT_BYTES || !mainWindow) return false;
  const { canceled, filePath } = await dialog.showSaveDialog(mainWindow, { defaultPath: 'dpulab-report.md', filters: [{ name: 'Markdown', extensions: ['md'] }] });
  if (canceled || !filePath) return false;
  await writeFile(filePath, text, 'utf8');
  return true;
});

ipcMain.handle('dpulab:open-database', async (event) => {
  if (!trusted(event) || !mainWindow) return false;
  const { canceled, filePaths } = await dialog.showOpenDialog(mainWindow, { properties: ['openFile'], filters: [{ name: 'dpulab event log', extensions: ['db'] }] });
  const file = filePaths[0];
  if (canceled || !file) return false;
  try {
    await show(['--db', file]);
    return true;
  } catch (error) {
    // The run on screen goes on: only a server that came up replaces it.
    dialog.showErrorBox('dpulab', `Cannot open ${file}: ${error instanceof Error ? error.message : String(error)}`);
    return false;
  }
});

app.on('web-contents-created', (_event, contents) => {
  contents.on('will-attach-webview', (e) => e.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
});

app.on('window-all-closed', () => app.quit());
app.on('before-quit', () => {
  void servers.stop();
});

await app.whenReady();
const handler = createAppProtocolHandler(STATIC_DIR, () => servers.active);
protocol.handle(APP_SCHEME, handler);
// No permission for anything: not asked for (request), not reported as granted (check), no devices.
session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
session.defaultSession.setPermissionCheckHandler(() => false);
session.defaultSession.setDevicePermissionHandler(() => false);
mainWindow = createWindow();
const db = process.argv.find((_arg, i) => process.argv[i - 1] === '--db');
try {
  await show(db ? ['--db', db] : []);
} catch (error) {
  dialog.showErrorBox('dpulab', error instanceof Error ? error.message : String(error));
  app.quit();
}
