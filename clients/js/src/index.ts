/**
 * `@otterdoc/client`: a TypeScript client for the otterdoc collaborative editing server.
 *
 * @module
 */

export {
  OtterdocClient,
  type ChangeEvent,
  type ChangeOrigin,
  type ConnectionState,
  type LocalChangeOptions,
  type OtterdocClientOptions,
  type OtterdocEvents,
  type PresenceOptions,
  type RemoteCursor,
} from "./client.js";
export {
  applyChanges,
  changesToOperation,
  diffToChanges,
  InvalidChangeError,
  mapPosition,
  operationToChanges,
  selectionToCodePoints,
  selectionToUtf16,
  type SelectionRange,
  type TextChange,
} from "./changes.js";
export {
  ClientState,
  DEFAULT_MAX_SUBMISSION_BYTES,
  splitOperation,
  StateError,
  type ClientStateOptions,
  type InFlight,
  type ReceiveResult,
  type ServerOp,
  type SyncStatus,
} from "./client-state.js";
export {
  StompConnection,
  STOMP_SUBPROTOCOLS,
  type ConnectionHandlers,
  type ConnectionOptions,
  type WebSocketConstructor,
} from "./connection.js";
export { Emitter, type EventMap } from "./emitter.js";
export {
  isServerErrorCode,
  isTransientErrorCode,
  OtterdocError,
  SERVER_ERROR_CODES,
  type ClientErrorCode,
  type ErrorCode,
  type ServerErrorCode,
} from "./errors.js";
export {
  OperationBuilder,
  OperationError,
  TextOperation,
  transform,
  transformIndex,
  transformSelection,
  transformThrough,
  type Bias,
  type Component,
  type Selection,
  type Side,
} from "./operation.js";
export {
  PresencePublisher,
  PresenceTracker,
  timerScheduler,
  type PresencePublisherOptions,
  type PresenceTrackerOptions,
  type RemotePresence,
  type Scheduler,
  type ToLocal,
} from "./presence.js";
export {
  destinations,
  isValidDocId,
  parseDocEvent,
  parseErrorEvent,
  parsePresenceEvent,
  ProtocolParseError,
  type ErrorEvent,
  type LeaveEvent,
  type OpEvent,
  type PresenceEvent,
  type PresenceSubmission,
  type SnapshotEvent,
  type Submission,
} from "./protocol.js";
export { UndoManager, type UndoOptions } from "./undo.js";
export {
  codePointLength,
  codePointToUtf16,
  codePointsToUtf16,
  isWellFormed,
  utf16ToCodePoint,
  utf16ToCodePoints,
} from "./utf16.js";
