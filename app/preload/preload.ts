/**
 * The desktop shell's bridge into the page: one named function per call, nothing else (no
 * ipcRenderer, no generic send). Each returns whether it did something. The main process checks
 * where every call comes from.
 */
import { contextBridge, ipcRenderer } from 'electron';

/** What the page sees as `window.dpulab`. */
const bridge = {
  /** Asks where to save, then writes the report text there. */
  saveReport: (text: string): Promise<boolean> => ipcRenderer.invoke('dpulab:save-report', String(text)) as Promise<boolean>,
  /** Asks for a recorded run (.db) and reopens the window on it. */
  openDatabase: (): Promise<boolean> => ipcRenderer.invoke('dpulab:open-database') as Promise<boolean>,
};

contextBridge.exposeInMainWorld('dpulab', bridge);
