// The microphone as the live WebSocket takes it: 16 kHz mono 16-bit little-endian PCM (the
// AudioContext resamples to 16 kHz), posted in 100 ms pieces with their loudness for the meter.
const PIECE = 1600;

class PcmCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.piece = new Int16Array(PIECE);
    this.filled = 0;
    this.energy = 0;
  }

  process(inputs) {
    const channel = inputs[0]?.[0];
    if (!channel) return true;
    for (const sample of channel) {
      const clipped = Math.max(-1, Math.min(1, sample));
      this.piece[this.filled++] = clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff;
      this.energy += clipped * clipped;
      if (this.filled === PIECE) {
        const pcm = this.piece.buffer;
        this.port.postMessage({ pcm, rms: Math.sqrt(this.energy / PIECE) }, [pcm]);
        this.piece = new Int16Array(PIECE);
        this.filled = 0;
        this.energy = 0;
      }
    }
    return true;
  }
}

registerProcessor("pcm-capture", PcmCapture);
