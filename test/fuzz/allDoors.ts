// Every fuzzed door, in the order of the report.
import { fileURLToPath } from 'node:url';
import type { Door } from './harness.ts';
import { PARSER_DOORS } from './doors.ts';
import { runtimeHttp, runtimeWebSocket } from './runtimeDoors.ts';
import { cliArguments } from './cliDoor.ts';

export const ALL_DOORS: Door<any>[] = [...PARSER_DOORS, runtimeWebSocket, runtimeHttp, cliArguments];

/** Where shrunk failing cases are kept and replayed by npm test. */
export const REGRESSIONS_DIR = fileURLToPath(new URL('./regressions/', import.meta.url));
