/** Streams the lines of a UTF-8 byte stream (LF or CRLF), without loading it whole; stream errors propagate. */
export async function* textLines(
  input: AsyncIterable<unknown> | NodeJS.ReadableStream,
): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n', start)) {
      yield stripCr(pending.slice(start, newline));
      start = newline + 1;
    }
    pending = pending.slice(start);
  }
  pending += decoder.decode();
  if (pending !== '') yield stripCr(pending);
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/**
 * Streams RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks; CRLF or LF endings.
 * Blank lines are skipped.
 */
export async function* csvRecords(
  input: AsyncIterable<unknown> | NodeJS.ReadableStream,
): AsyncGenerator<string[]> {
  const decoder = new TextDecoder('utf-8');
  let field = '';
  let record: string[] = [];
  let inQuotes = false;
  let quotePending = false;
  let fieldStarted = false;
  const done: string[][] = [];
  const endRecord = () => {
    if (fieldStarted || record.length > 0 || field !== '') {
      record.push(field);
      done.push(record);
    }
    record = [];
    field = '';
    fieldStarted = false;
  };
  const consume = (text: string) => {
    for (let i = 0; i < text.length; i++) {
      const c = text[i] as string;
      if (inQuotes) {
        if (quotePending) {
          quotePending = false;
          if (c === '"') {
            field += '"';
            continue;
          }
          inQuotes = false;
        } else if (c === '"') {
          quotePending = true;
          continue;
        } else {
          field += c;
          continue;
        }
      }
      if (c === '"' && field === '') {
        inQuotes = true;
        fieldStarted = true;
      } else if (c === ',') {
        record.push(field);
        field = '';
        fieldStarted = true;
      } else if (c === '\n') {
        endRecord();
      } else if (c !== '\r') {
        field += c;
      }
    }
  };
  for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
    consume(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    yield* done.splice(0);
  }
  consume(decoder.decode());
  endRecord();
  yield* done.splice(0);
}
