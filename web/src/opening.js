// A file's opening as 16 kHz mono PCM, without reading or decoding the rest of it: the edge
// check hears the first minute only, and a one-hour or 200 MB file must cost what a minute does.
//
// WAV: the header says where each second lies, so the opening's bytes are cut out exactly and
// given a header of their own. Other formats (MP3, Ogg, FLAC, AAC, WebM, M4A): the browser reads
// the duration from the file's metadata, the first bytes in proportion (plus a margin) are
// decoded, and a format that cannot be decoded from its start alone (an M4A whose index sits at
// the end) is decoded whole, up to WHOLE_LIMIT bytes.

export const OPENING_S = 60;
const RATE = 16000;
const MARGIN_BYTES = 256 << 10; // headers, tags and a variable bit rate's uneven start
const WHOLE_LIMIT = 150e6;

export async function decodeOpening(file, seconds = OPENING_S) {
  const wav = await wavOpening(file, seconds);
  if (wav) return { pcm: await toPcm(wav.bytes, seconds), durationS: wav.durationS };
  const durationS = await metadataDuration(file);
  const share = Number.isFinite(durationS) && durationS > 0 ? (seconds + 5) / durationS : 1;
  const bytes = Math.ceil(file.size * Math.min(1, share)) + MARGIN_BYTES;
  if (bytes < file.size) {
    try {
      return { pcm: await toPcm(await file.slice(0, bytes).arrayBuffer(), seconds), durationS };
    } catch {
      // decoded from its start alone it is not: whole, below
    }
  }
  if (file.size > WHOLE_LIMIT) {
    throw new Error(`this ${(file.size / 1e6).toFixed(0)} MB file cannot be checked in the browser: upload it anyway, the server checks it`);
  }
  return { pcm: await toPcm(await file.arrayBuffer(), seconds), durationS };
}

async function toPcm(data, seconds) {
  // An OfflineAudioContext decodes off the main thread without holding an audio device open.
  const decoded = await new OfflineAudioContext(1, 1, RATE).decodeAudioData(data);
  const kept = Math.min(decoded.duration, seconds);
  const offline = new OfflineAudioContext(1, Math.max(1, Math.ceil(kept * RATE)), RATE);
  const source = offline.createBufferSource();
  source.buffer = decoded;
  source.connect(offline.destination);
  source.start(0, 0, kept);
  return (await offline.startRendering()).getChannelData(0);
}

function metadataDuration(file) {
  return new Promise((resolve) => {
    const audio = new Audio();
    const url = URL.createObjectURL(file);
    const done = (value) => {
      URL.revokeObjectURL(url);
      audio.removeAttribute("src");
      resolve(value);
    };
    audio.preload = "metadata";
    audio.onloadedmetadata = () => done(audio.duration);
    audio.onerror = () => done(NaN);
    audio.src = url;
  });
}

// The opening of a RIFF/WAVE file: its format chunk, then the first `seconds` of its data, under
// a header that says so. Null when the file is not a WAV this reads (the other path takes it).
async function wavOpening(file, seconds) {
  const head = new DataView(await file.slice(0, 64 << 10).arrayBuffer());
  const text = (at) => String.fromCharCode(...new Uint8Array(head.buffer, at, 4));
  if (head.byteLength < 44 || text(0) !== "RIFF" || text(8) !== "WAVE") return null;
  let fmt = null;
  for (let at = 12; at + 8 <= head.byteLength; ) {
    const id = text(at);
    const size = head.getUint32(at + 4, true);
    if (id === "fmt ") fmt = { at, size, byteRate: head.getUint32(at + 16, true), align: head.getUint16(at + 20, true) };
    if (id === "data") {
      if (!fmt || fmt.at + 8 + fmt.size > head.byteLength || !fmt.byteRate || !fmt.align) return null;
      const start = at + 8;
      const available = Math.min(size, file.size - start); // a streamed WAV's size may be unset
      const wanted = Math.ceil((seconds * fmt.byteRate) / fmt.align) * fmt.align;
      const take = Math.max(0, Math.min(available - (available % fmt.align), wanted));
      const header = new Uint8Array(12 + 8 + fmt.size + 8);
      header.set(new Uint8Array(head.buffer, 0, 12));
      header.set(new Uint8Array(head.buffer, fmt.at, 8 + fmt.size), 12);
      header.set(new Uint8Array(head.buffer, at, 8), 20 + fmt.size);
      const view = new DataView(header.buffer);
      view.setUint32(4, header.length - 8 + take, true);
      view.setUint32(header.length - 4, take, true);
      const data = await file.slice(start, start + take).arrayBuffer();
      const bytes = new Uint8Array(header.length + take);
      bytes.set(header);
      bytes.set(new Uint8Array(data), header.length);
      return { bytes: bytes.buffer, durationS: available / fmt.byteRate };
    }
    at += 8 + size + (size % 2); // chunks are padded to an even size
  }
  return null;
}
