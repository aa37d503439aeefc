// The session's chat (docs/signaling.md, "Coaching: cues and chat"): links and short messages to
// everyone in the room. The server echoes each message to everyone, its author included, and
// keeps it with the session's record. Text is only ever set as text; a link becomes an <a> only
// when it parses as an http(s) URL.

import { randomRef } from "./session-util.js";

const $ = (sel, root = document) => root.querySelector(sel);
const LINK = /(https?:\/\/[^\s<>"']+)/g;
const ROLE = { therapist: "Therapist", parent: "Parent", observer: "Observer" };

export function linkified(text) {
  const nodes = [];
  for (const part of text.split(LINK)) {
    if (!part) continue;
    let url = null;
    if (/^https?:\/\//.test(part)) {
      try { url = new URL(part); } catch { url = null; }
    }
    if (url && (url.protocol === "https:" || url.protocol === "http:")) {
      const a = document.createElement("a");
      a.href = url.href;
      a.target = "_blank";
      a.rel = "noopener noreferrer nofollow";
      a.textContent = part;
      nodes.push(a);
    } else {
      nodes.push(document.createTextNode(part));
    }
  }
  return nodes;
}

export class ChatPanel {
  constructor(call) {
    this.call = call;
    this.panel = $("#chat-panel", call.root);
    this.log = $("#chat-log", call.root);
    this.inRoom = false;
    if (!this.panel) return;
    $("#chat-form", this.panel).addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
  }

  handle(msg) {
    switch (msg.type) {
      case "welcome":
        // A rejoin: the server replays the recent chat after this.
        this.inRoom = !msg.lobby;
        this.log?.replaceChildren();
        break;
      case "admitted":
        this.inRoom = true;
        break;
      case "chat":
        this.append(msg);
        break;
      default:
        return;
    }
    if (this.panel) this.panel.hidden = !this.inRoom;
  }

  send() {
    const input = $("#chat-text", this.panel);
    const text = input.value.trim().slice(0, 1000);
    if (!text || !this.inRoom) return;
    this.call.signaling.send({ type: "chat", client_ref: randomRef(), text });
    input.value = "";
  }

  append(msg) {
    if (!this.log) return;
    const li = document.createElement("li");
    li.dataset.author = msg.author_id;
    li.dataset.role = msg.role;
    const who = document.createElement("span");
    who.className = "chat-who";
    const mine = msg.author_id === this.call.me;
    who.textContent = `${mine ? "You" : msg.name === ROLE[msg.role] ? msg.name : `${msg.name} (${ROLE[msg.role]})`}: `;
    const body = document.createElement("span");
    body.className = "chat-text";
    body.append(...linkified(msg.text));
    li.append(who, body);
    this.log.append(li);
    li.scrollIntoView({ block: "nearest" });
  }
}
