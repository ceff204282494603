/**
 * The desktop shell: the same UI `dpulab ui` serves, in a window. The server runs in a plain
 * Node child process (the compiled CLI, `ui --port 0`), never in this one; the window loads it
 * over http://127.0.0.1 like any browser would, with every Electron hardening on:
 *
 * - contextIsolation, sandbox, no nodeIntegration, webSecurity on, no webviews;
 * - the preload exposes one named function per call (`dpulab.saveReport`, `dpulab.openDatabase`),
 *   and every IPC handler checks that the calling frame comes from the server's origin;
 * - navigation away from that origin and new windows are denied, permission requests refused;
 * - the server child is killed when the app quits.
 */
import { app, BrowserWindow, dialog, ipcMain, session, type IpcMainInvokeEvent } from 'electron';
import { fork, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The compiled command line, beside this file in dist/app/. */
const CLI = join(here, '..', 'cli', 'main.js');
/** The preload, bundled into one CommonJS file by the build (a sandboxed preload cannot import). */
const PRELOAD = join(here, '..', 'preload', 'preload.cjs');
/** Longest wait for the server to say where it listens. */
const SERVER_START_MS = 30_000;
/** Largest report the renderer may ask to save. */
const MAX_REPORT_BYTES = 5 * 1024 * 1024;

let server: ChildProcess | null = null;
let origin: string | null = null;
let mainWindow: BrowserWindow | null = null;

/**
 * Starts `dpulab ui --port 0 ARGS` in a child process and resolves with its URL. In development
 * the child runs on the system's Node (the native addons were built for it; DPULAB_NODE overrides
 * which one); packaged, on Electron's own Node, whose addons electron-builder rebuilt.
 */
function startServer(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = fork(CLI, ['ui', '--port', '0', ...args], {
      execPath: app.isPackaged ? process.execPath : (process.env.DPULAB_NODE ?? 'node'),
      // Electron as Node: also what the node processes the server spawns inherit.
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    server = child;
    const timer = setTimeout(() => reject(new Error('The UI server did not start in time')), SERVER_START_MS);
    child.on('message', (message: unknown) => {
      const m = message as { type?: unknown; url?: unknown };
      if (m?.type === 'dpulab-ui' && typeof m.url === 'string') {
        clearTimeout(timer);
        resolve(m.url);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (server === child) server = null;
      reject(new Error(`The UI server exited (${signal ?? `code ${code}`})`));
    });
  });
}

/** Stops the server child and waits for it to go. */
function stopServer(): Promise<void> {
  const child = server;
  server = null;
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Whether an IPC call comes from a frame of the server's page (not some other content). */
function trusted(event: IpcMainInvokeEvent): boolean {
  const url = event.senderFrame?.url;
  if (!url || !origin) return false;
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}

async function load(args: readonly string[]): Promise<void> {
  await stopServer();
  const url = await startServer(args);
  origin = new URL(url).origin;
  await mainWindow?.loadURL(url);
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
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
      preload: PRELOAD,
    },
  });
  window.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  const sameOrigin = (url: string): boolean => {
    try {
      return origin !== null && new URL(url).origin === origin;
    } catch {
      return false;
    }
  };
  window.webContents.on('will-navigate', (event, url) => {
    if (!sameOrigin(url)) event.preventDefault();
  });
  window.webContents.on('will-redirect', (event, url) => {
    if (!sameOrigin(url)) event.preventDefault();
  });
  window.on('closed', () => {
    mainWindow = null;
  });
  return window;
}

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
  await load(['--db', file]);
  return true;
});

app.on('web-contents-created', (_event, contents) => {
  contents.on('will-attach-webview', (e) => e.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
});

app.on('window-all-closed', () => app.quit());
app.on('before-quit', () => {
  server?.kill('SIGTERM');
});
process.on('exit', () => server?.kill('SIGKILL'));

await app.whenReady();
session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
mainWindow = createWindow();
const db = process.argv.find((arg, i) => process.argv[i - 1] === '--db');
try {
  await load(db ? ['--db', db] : []);
} catch (error) {
  dialog.showErrorBox('dpulab', error instanceof Error ? error.message : String(error));
  app.quit();
}
