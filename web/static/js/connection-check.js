// The join page's connection check: before the parent knocks, can video get from this network
// to Tandem's relay, directly or through a relay server (TURN)? A data-channel-only connection
// with the same ICE servers and the same wait for candidates as the call
// (server/http/pages_join_probe.py answers it from a probe peer, media/probe.py).
import { waitForIceGathering } from "./peer.js";

// The relay keeps a probe 20 s; direct paths answer in well under a second, TURN in a few.
const CONNECT_MS = 10000;

export const RESULTS = {
  checking: {
    title: "Checking the connection to the video service…",
    advice: "",
    tone: "",
  },
  direct: {
    title: "Connection to the video service: direct.",
    advice: "Your network lets video through.",
    tone: "alert-ok",
  },
  turn: {
    title: "Connection to the video service: through a relay server (TURN).",
    advice: "Your network blocks direct video, but the call will work through Tandem's relay server.",
    tone: "alert-ok",
  },
  blocked: {
    title: "Connection to the video service: blocked.",
    advice:
      "Your network blocks video calls. Try another network (your home Wi-Fi or your phone's mobile data), " +
      "or turn off your VPN, then check again. On a work or school network, ask its administrator to allow " +
      "video calls, or tell your therapist.",
    tone: "alert-error",
  },
  unavailable: {
    title: "We could not check the connection to the video service just now.",
    advice: "You can still join; if the video does not start, try another network.",
    tone: "alert-warn",
  },
  link: {
    title: "This link is no longer valid.",
    advice: "Ask your therapist for a new one.",
    tone: "alert-error",
  },
};

function within(ms) {
  return new Promise((resolve) => setTimeout(() => resolve(null), ms));
}

function failed(pc) {
  return new Promise((resolve) => {
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed") resolve(null);
    });
  });
}

// The candidate types of the pair the browser uses ("relay" locally means through TURN).
async function selectedPair(pc) {
  const stats = [...(await pc.getStats()).values()];
  const byId = new Map(stats.map((s) => [s.id, s]));
  const transport = stats.find((s) => s.type === "transport" && s.selectedCandidatePairId);
  const pair = transport && byId.get(transport.selectedCandidatePairId);
  if (!pair) return null;
  const local = byId.get(pair.localCandidateId);
  const remote = byId.get(pair.remoteCandidateId);
  return {
    local: local?.candidateType ?? null,
    remote: remote?.candidateType ?? null,
    relayProtocol: local?.relayProtocol ?? null,
  };
}

// Resolves to { result: "direct" | "turn" | "blocked" | "unavailable" | "link", pair }.
export async function checkConnection({ iceServers, url, csrf }) {
  const pc = new RTCPeerConnection({ iceServers: iceServers || [] });
  try {
    const channel = pc.createDataChannel("probe");
    const report = new Promise((resolve) => {
      channel.addEventListener("message", (event) => resolve(event.data), { once: true });
    });
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc);
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
        body: JSON.stringify({ sdp: pc.localDescription.sdp }),
      });
    } catch {
      return { result: "unavailable", pair: null };
    }
    if (response.status === 403 || response.status === 410) return { result: "link", pair: null };
    if (!response.ok) return { result: "unavailable", pair: null };
    const { sdp } = await response.json();
    await pc.setRemoteDescription({ type: "answer", sdp });
    const message = await Promise.race([report, failed(pc), within(CONNECT_MS)]);
    if (message === null) return { result: "blocked", pair: null };
    // The browser's own view decides; the relay's (its remote candidate type) is the fallback.
    const pair = await selectedPair(pc);
    const relayed = pair?.local ? pair.local === "relay" : JSON.parse(message).remote === "relay";
    return { result: relayed ? "turn" : "direct", pair };
  } catch (err) {
    console.warn("connection check failed", err);
    return { result: "unavailable", pair: null };
  } finally {
    pc.close();
  }
}

// Show a result in the page's status line (role=status: screen readers announce it).
export function showResult(element, result) {
  const { title, advice, tone } = RESULTS[result];
  const strong = document.createElement("strong");
  strong.textContent = title;
  element.replaceChildren(strong, ...(advice ? [" ", advice] : []));
  element.className = `alert ${tone}`.trim();
  element.dataset.result = result;
}
