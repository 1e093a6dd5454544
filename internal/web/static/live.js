// The console WebSocket of one instance, shared by the overview and the
// console pages: Berth.live(id, on) connects, hands every event to
// on.event({event, data}), and reconnects with exponential backoff after a
// drop, telling on.link(state, seconds) what it is doing: "connecting",
// "open", "waiting" (seconds until the next try) or "ended" (no retry: the
// credential no longer works).
"use strict";
(function () {
  const first = 1, most = 30;

  Berth.live = function (id, on) {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
      "/api/client/instances/" + encodeURIComponent(id) + "/console";
    let ws = null, delay = first, timer = 0, ended = false;

    function connect() {
      clearTimeout(timer);
      on.link("connecting");
      ws = new WebSocket(url);
      ws.onopen = () => on.link("open");
      ws.onmessage = (e) => {
        // A frame proves the console works: the next drop starts over.
        delay = first;
        let m;
        try { m = JSON.parse(e.data); } catch (err) { return; }
        if (m && typeof m.event === "string") on.event(m);
      };
      ws.onclose = (e) => {
        ws = null;
        // 1008: the panel closed it because the credential no longer works.
        if (e.code === 1008) { ended = true; on.link("ended"); return; }
        wait(delay);
        delay = Math.min(delay * 2, most);
      };
    }

    function wait(left) {
      on.link("waiting", left);
      timer = setTimeout(() => (left > 1 ? wait(left - 1) : connect()), 1000);
    }

    connect();
    return {
      // send sends an event; it reports whether the console was open.
      send(event, data) {
        if (!ws || ws.readyState !== WebSocket.OPEN) return false;
        ws.send(JSON.stringify({ event, data }));
        return true;
      },
      // retry connects now instead of waiting.
      retry() { if (!ws && !ended) connect(); },
    };
  };

  // Berth.linkText describes the connection's state for a person.
  Berth.linkText = function (state, seconds) {
    switch (state) {
      case "connecting": return "Connecting…";
      case "open": return "Live";
      case "waiting": return "Disconnected: reconnecting in " + seconds + " s";
      default: return "Disconnected: sign in again to reconnect.";
    }
  };
})();
