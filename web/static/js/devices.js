// Camera and microphone: capture, device lists, a level meter.

export async function getLocalMedia({ audioDeviceId, videoDeviceId } = {}) {
  const constraints = {
    audio: audioDeviceId ? { deviceId: { exact: audioDeviceId } } : true,
    video: videoDeviceId
      ? { deviceId: { exact: videoDeviceId }, width: { ideal: 640 }, height: { ideal: 480 } }
      : { width: { ideal: 640 }, height: { ideal: 480 } },
  };
  return navigator.mediaDevices.getUserMedia(constraints);
}

export async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  return {
    audio: devices.filter((d) => d.kind === "audioinput"),
    video: devices.filter((d) => d.kind === "videoinput"),
  };
}

export function fillSelect(select, devices, currentId) {
  select.replaceChildren();
  devices.forEach((device, i) => {
    const option = document.createElement("option");
    option.value = device.deviceId;
    option.textContent = device.label || `${device.kind === "audioinput" ? "Microphone" : "Camera"} ${i + 1}`;
    if (device.deviceId === currentId) option.selected = true;
    select.append(option);
  });
  select.disabled = devices.length < 2;
}

// A meter for the microphone check: parents need to see that they are heard before joining.
export class LevelMeter {
  constructor(meterElement) {
    this.meter = meterElement;
    this.context = null;
    this.frame = 0;
  }

  attach(stream) {
    this.detach();
    const track = stream.getAudioTracks()[0];
    if (!track) return;
    const AudioCtx = window.AudioContext || window.webkitAudioContext;
    if (!AudioCtx) return;
    this.context = new AudioCtx();
    // Created before any click, the context may start suspended (autoplay policy): the meter
    // would stay flat. Resume it at the first click or key press on the page.
    if (this.context.state === "suspended") {
      const context = this.context;
      const resume = () => {
        document.removeEventListener("pointerdown", resume, true);
        document.removeEventListener("keydown", resume, true);
        if (context.state === "suspended") context.resume().catch(() => {});
      };
      document.addEventListener("pointerdown", resume, true);
      document.addEventListener("keydown", resume, true);
    }
    const source = this.context.createMediaStreamSource(new MediaStream([track]));
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 512;
    source.connect(analyser);
    const data = new Uint8Array(analyser.fftSize);
    const tick = () => {
      analyser.getByteTimeDomainData(data);
      let peak = 0;
      for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
      const level = Math.min(100, Math.round((peak / 128) * 160));
      this.meter.value = level;
      this.meter.setAttribute("aria-valuenow", String(level));
      this.frame = requestAnimationFrame(tick);
    };
    tick();
  }

  detach() {
    cancelAnimationFrame(this.frame);
    if (this.context) this.context.close();
    this.context = null;
  }
}
