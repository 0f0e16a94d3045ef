// The recording's waveform on a canvas: the played part darker, a playhead; click, drag or the
// arrow keys seek (the player then asks for that byte range: 206).

export function drawWaveform(canvas, audio, { peaks, peaks_per_s: perS }) {
  const total = () => (Number.isFinite(audio.duration) ? audio.duration : peaks.length / perS);
  const loudest = Math.max(1, ...peaks); // a quiet recording fills the height too
  const draw = () => {
    const width = (canvas.width = Math.round(canvas.clientWidth * devicePixelRatio) || 800);
    const height = canvas.height;
    const g = canvas.getContext("2d");
    const colour = (name) => getComputedStyle(canvas).getPropertyValue(name).trim(); // the theme's
    g.clearRect(0, 0, width, height);
    const played = (audio.currentTime / total()) * width;
    for (let x = 0; x < width; x++) {
      const from = Math.floor((x / width) * peaks.length); // the loudest peak under this column
      const to = Math.max(from + 1, Math.floor(((x + 1) / width) * peaks.length));
      let level = 0;
      for (let i = from; i < to && i < peaks.length; i++) level = Math.max(level, peaks[i]);
      const bar = Math.max(1, (level / loudest) * (height - 4));
      g.fillStyle = x < played ? colour("--played") : colour("--faint");
      g.fillRect(x, (height - bar) / 2, 1, bar);
    }
    g.fillStyle = colour("--danger");
    g.fillRect(Math.min(width - 2, played), 0, 2, height);
    canvas.setAttribute("aria-valuemax", Math.round(total()));
    canvas.setAttribute("aria-valuenow", Math.round(audio.currentTime));
    canvas.setAttribute("aria-valuetext", `${Math.round(audio.currentTime)} of ${Math.round(total())} seconds`);
    canvas.dataset.drawn = "1";
  };
  const seekTo = (event) => {
    const box = canvas.getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    audio.currentTime = fraction * total();
    draw();
  };
  let dragging = false;
  canvas.addEventListener("pointerdown", (e) => { dragging = true; canvas.setPointerCapture(e.pointerId); seekTo(e); });
  canvas.addEventListener("pointermove", (e) => dragging && seekTo(e));
  canvas.addEventListener("pointerup", () => { dragging = false; });
  canvas.addEventListener("keydown", (e) => {
    const step = { ArrowLeft: -5, ArrowRight: 5, Home: -Infinity, End: Infinity }[e.key];
    if (step === undefined) return;
    e.preventDefault();
    audio.currentTime = Math.min(total(), Math.max(0, audio.currentTime + step));
    draw();
  });
  for (const event of ["timeupdate", "seeked", "loadedmetadata"]) audio.addEventListener(event, draw);
  new ResizeObserver(draw).observe(canvas);
  draw();
}
