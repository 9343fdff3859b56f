import { call } from "./api.js";

// Server-Sent Events over fetch(): EventSource cannot send the Authorization header, so the
// page reads the text/event-stream body itself. On a dropped connection it reconnects with
// Last-Event-ID and receives only later events; it stops after the `final` event.
export async function follow(id, onEvent, signal) {
  let lastEventId = null;
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      const headers = lastEventId === null ? {} : { "Last-Event-ID": lastEventId };
      const response = await call(`/v1/generations/${id}/events`, { accept: "text/event-stream", signal, headers });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      let finished = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = parse(block);
          if (!event) continue; // a comment (": ping") or the retry field
          lastEventId = event.id;
          attempt = 0;
          onEvent(event);
          if (event.name === "final") finished = true;
        }
      }
      if (finished) return;
    } catch (error) {
      if (signal.aborted) return;
      if (error.status && error.status < 500) throw error; // 401/403/404: reconnecting will not help
    }
    await new Promise(resolve => setTimeout(resolve, Math.min(500 * 2 ** attempt, 5000)));
  }
}

function parse(block) {
  let id = null, name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") id = value;
    else if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  return data.length === 0 ? null : { id, name, data: JSON.parse(data.join("\n")) };
}
