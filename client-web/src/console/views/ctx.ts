/**
 * What every view of the console gets from the app (app.ts implements it): the session,
 * the view model, the selection and the few actions views trigger. Views build DOM
 * from this and call back; they keep no protocol state of their own.
 */
import type { ConvVM, ConsoleModel } from '../model';
import type { Session } from '../api';

export interface Ctx {
  readonly session: Session;
  readonly model: ConsoleModel;
  readonly isSupervisor: boolean;
  /** the conversation on screen */
  readonly selected: string | null;
  select(id: string): void;
  /** Sends a frame; toasts "not connected" when it cannot (and returns false). */
  act(frame: { type: string; [k: string]: unknown }, done?: string): boolean;
  toast(text: string, error?: boolean): void;
  /** Asks the server for the colleagues to transfer to (throttled). */
  refreshColleagues(): void;
  /** re-render soon */
  schedule(): void;
  shopperName(c: ConvVM): string;
  staffName(id: string): string;
  storeName(id: string | undefined): string | undefined;
  /** May this user write / act in this conversation? */
  canAct(c: ConvVM): boolean;
  /** Whether what this user writes in the conversation is staff-only (whisper). */
  myVisibility(convId: string): 'all' | 'staff';
}
