// Live transcription: the microphone streamed to /api/v1/live, the words shown as they are said
// (settled text, then the tail that may still change), a level meter; Stop opens the recording.
import { fmtSeconds, h } from "./ui.js";

const SOCKET = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/live`;

// The page; `leave` is called by the router when another page replaces it.
export function recordPage(main, topics, onPage) {
  const select = h("select", { id: "live-topic" }, h("option", { value: "" }, "No topic"), topics.map((t) => h("option", { value: t.name }, t.label)));
  const record = h("button", { type: "button", id: "record" }, "Record");
  const stop = h("button", { type: "button", id: "stop", disabled: true }, "Stop");
  const meter = h("meter", { id: "level", min: 0, max: 1, value: 0, "aria-label": "Microphone level" });
  const clock = h("span", { id: "live-clock", class: "note-line" }, "");
  const status = h("p", { id: "live-status", role: "status" }, "");
  const settled = h("span", { id: "live-final" });
  const tail = h("span", { id: "live-partial", class: "partial" });
  const text = h("div", { id: "live-text", class: "live-text", "aria-live": "polite" }, settled, " ", tail);
  let session = null;

  record.addEventListener("click", async () => {
    record.disabled = true;
    status.textContent = "Asking your browser for the microphone…";
    settled.replaceChildren();
    tail.textContent = "";
    try {
      session = await start(select.value, {
        microphone: () => { status.textContent = "Recording. The server's speech model is getting ready: your words will appear in a moment."; },
        ready: () => {
          stop.disabled = false;
          status.textContent = "Recording: your words appear as you say them. Stop keeps it as a recording.";
        },
        level: (rms, seconds) => {
          meter.value = Math.min(1, rms * 4);
          clock.textContent = fmtSeconds(seconds);
        },
        partial: (words) => { tail.textContent = words; },
        final: (segment) => settled.append(h("span", { class: "final", "data-start": segment.start }, `${segment.text} `)),
        recording: (id) => { location.hash = `#/recordings/${id}`; },
        failed: (why) => {
          status.textContent = why;
          record.disabled = false;
          stop.disabled = true;
          meter.value = 0;
        },
      });
    } catch (error) {
      status.textContent = error.name === "NotAllowedError"
        ? "The microphone was not allowed. Allow it for this site in your browser's settings, then press Record again."
        : `The microphone could not be opened: ${error.message}`;
      record.disabled = false;
    }
  });
  stop.addEventListener("click", () => {
    stop.disabled = true;
    status.textContent = "Finishing: the last words, then the recording…";
    session?.stop();
  });
  onPage(window, "hashchange", () => session?.stop(), { once: true });

  main.replaceChildren(
    h("h1", {}, "Record"),
    h("p", { class: "note" }, "Record asks your browser for the microphone (it will ask you to allow it). What you say is sent to this server as you speak and written out as you go; when you stop, it is kept as a recording like an upload: archived, transcribed in full and summarised."),
    h("p", {}, h("label", { for: "live-topic" }, "Topic "), select),
    h("p", { class: "actions" }, record, " ", stop, " ", meter, " ", clock),
    status,
    text,
  );
}

// The microphone to the socket until `stop()`; `on` hears what happens.
async function start(topic, on) {
  const microphone = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
  on.microphone();
  const context = new AudioContext({ sampleRate: 16000 });
  await context.audioWorklet.addModule(new URL("/static/dist/pcm-worklet.js", location.href));
  const capture = new AudioWorkletNode(context, "pcm-capture");
  const mute = context.createGain();
  mute.gain.value = 0; // pulled by the output so it runs, heard by no one
  context.createMediaStreamSource(microphone).connect(capture).connect(mute).connect(context.destination);
  const socket = new WebSocket(SOCKET);
  socket.binaryType = "arraybuffer";
  let open = false;
  let sent = 0;
  let finished = false;
  let waiting = []; // what the microphone heard before the session was open (the first waits for the model)
  let released = false;
  const release = () => { // once: a stop, then the socket's close, both call it
    if (released) return;
    released = true;
    microphone.getTracks().forEach((track) => track.stop());
    capture.port.onmessage = null;
    context.close();
  };
  const send = (pcm) => {
    socket.send(pcm);
    sent += pcm.byteLength;
  };
  capture.port.onmessage = ({ data }) => {
    if (open) send(data.pcm);
    else if (waiting) waiting.push(data.pcm);
    on.level(data.rms, (sent + (waiting?.length ?? 0) * data.pcm.byteLength) / 32000);
  };
  socket.onopen = () => socket.send(JSON.stringify({ type: "start", ...(topic ? { domain: topic } : {}) }));
  socket.onmessage = ({ data }) => {
    const message = JSON.parse(data);
    if (message.type === "ready") {
      open = true;
      waiting.forEach(send);
      waiting = null;
      on.ready();
    } else if (message.type === "partial") on.partial(message.text);
    else if (message.type === "final") on.final(message);
    else if (message.type === "recording") {
      finished = true;
      on.recording(message.id);
    } else if (message.type === "error") {
      finished = true;
      release();
      on.failed(message.error === "live_busy" ? `Every live session of this server is taken: try again in a while. (${message.detail})` : message.detail);
    }
  };
  socket.onclose = (event) => {
    release();
    if (!finished) on.failed(event.reason || "The connection to the server was lost. What was sent before is kept as a recording.");
  };
  return {
    stop() {
      if (!open) {
        release();
        return socket.close();
      }
      open = false;
      release();
      socket.send(JSON.stringify({ type: "stop" }));
    },
  };
}
