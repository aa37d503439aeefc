// What the connection did and when, kept for diagnosis (window.tandemTrace in the console, and
// the network tests print it): the socket's tries, stalls, probes, offers and answers, and the
// peer connection's states, each with the time it happened. Bounded: the newest 200 entries.
const LIMIT = 200;
const entries = [];

export function trace(what) {
  entries.push([Date.now(), what]);
  if (entries.length > LIMIT) entries.shift();
}

window.tandemTrace = entries;
