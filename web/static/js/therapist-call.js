// The therapist's call page: camera on at once (the therapist starts the session), then connect.
import { CallController } from "./call.js";
import { getLocalMedia } from "./devices.js";

const root = document.getElementById("call");
const config = JSON.parse(root.dataset.config);

async function main() {
  let stream = null;
  try {
    stream = await getLocalMedia();
  } catch (err) {
    document.getElementById("announcer").textContent =
      `Camera or microphone unavailable (${err.message}). You can still admit and observe.`;
  }
  const call = new CallController(root, config, { localStream: stream });
  call.start();
}

main();
