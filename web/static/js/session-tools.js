// Session tools on top of the call: recording consent, annotations (notes, tags, snapshots),
// drawing on live video, cue cards and chat. Each tool sees every signaling message after the call handled it.

import { RecordingUI } from "./recording-ui.js";
import { AnnotationPanel } from "./annotate.js";
import { DrawingLayer } from "./drawing.js";
import { CoachingTools } from "./coaching.js";
import { ChatPanel } from "./chat.js";
import { ScreenShare } from "./screen-share.js";
import { SecondCameraPanel } from "./second-camera.js";

export function installSessionTools(call) {
  const recording = new RecordingUI(call);
  const annotations = new AnnotationPanel(call);
  const drawing = new DrawingLayer(call, annotations);
  const coaching = new CoachingTools(call, annotations);
  const chat = new ChatPanel(call);
  const screen = new ScreenShare(call);
  const tools = [recording, annotations, drawing, coaching, chat, screen, new SecondCameraPanel(call)];
  const each = (method, arg) => {
    for (const tool of tools) {
      try {
        tool[method]?.(arg);
      } catch (err) {
        console.error(`session tool ${tool.constructor.name}.${method} failed`, err);
      }
    }
  };
  return {
    recording,
    annotations,
    drawing,
    coaching,
    chat,
    screen,
    handle: (msg) => each("handle", msg),
    tilesChanged: () => each("tilesChanged"),
    finish: () => each("finish"),
  };
}
