// What the ONNX file worker is asked (in workerData) and answers (one message).
import type { VggErrorCode } from '../errors.js';
import type { LayerTable } from '../layer-table.js';
import type { UserOnnxExpectations, UserOnnxSignature } from './user-onnx.js';

export type OnnxFileTask =
  | { kind: 'signature'; path: string; expect: UserOnnxExpectations }
  | { kind: 'inspect'; path: string; name: string; notes: string[]; inputSize: number | undefined };

export type OnnxFileAnswer =
  | { ok: true; kind: 'signature'; sha256: string; signature: UserOnnxSignature }
  | { ok: true; kind: 'inspect'; table: LayerTable }
  | { ok: false; code: VggErrorCode; message: string };
