// kubesim report.html: one time slider drives every view. No network, no libraries.
"use strict";
(function () {
  var errorsEl = document.getElementById("errors");
  function reportError(msg) {
    errorsEl.textContent += msg + "\n";
  }
  window.addEventListener("error", function (e) {
    reportError("error: " + e.message + (e.lineno ? " (line " + e.lineno + ")" : ""));
  });
  window.addEventListener("unhandledrejection", function (e) {
    reportError("error: " + e.reason);
  });

  var D = JSON.parse(document.getElementById("data").textContent);

  var T = {
    en: {
      title: "kubesim report",
      play: "Play", pause: "Pause", speed: "Speed",
      prevEvent: "◀ event", nextEvent: "event ▶",
      networks: "The three networks at t",
      networksHint: "Services (top) keep their ClusterIP; nodes (middle) each run kube-proxy; pods (bottom, inside their node) come and go with new IPs. Arrows: the endpoints of the chosen Service in each node's rules as its kube-proxy last synced them; red dashed: a stale endpoint (the pod is terminating or gone). Click a pod, node or Service for details.",
      service: "Service",
      endpointsTitle: "Endpoints each node's kube-proxy had synced at t",
      requestsTitle: "Requests per pod over time",
      traceTitle: "Follow a request",
      traceHint: "A new connection traced through the rules at the sampled instant, as `kubesim trace` prints it. Step through its hops; the matched rules are listed under the entry node.",
      sample: "Sample",
      aboutTitle: "About this report",
      seed: "seed", simulated: "simulated", mode: "mode",
      requestsSummary: "requests: {sent} sent, {served} served, {failed} failed",
      node: "NODE", synced: "SYNCED AT", endpoints: "ENDPOINTS",
      neverSynced: "not synced yet",
      noPods: "No pods exist at this instant.",
      noEvents: "No events yet.",
      noTraces: "No traffic stream to trace in this scenario.",
      serviceNetwork: "Service network (ClusterIPs, virtual: in every node's rules)",
      nodeNetwork: "Node network (NodeIPs)",
      podNetwork: "Pod network (pod IPs, one range per node)",
      unscheduled: "not scheduled",
      more: "+{n} more",
      gone: "gone",
      stale: "stale",
      failed: "failed",
      markers: "timeline events",
      clusterEvents: "cluster events (warnings in red)",
      cursor: "t",
      perBucket: "requests per {b}s",
      clickHint: "Click the chart to move to that instant.",
      step: "hop",
      all: "all",
      tracedAt: "traced at",
      from: "from", to: "to",
      aboutSampling: "Pod and node states are recorded at most every {r}s of simulated time (a change shows at most that late; the last change of a burst exactly); a pod's creation, deletion and disappearance are exact.",
      aboutPods: "Pods followed: the first {n} created ({m} more not shown).",
      aboutNodes: "Nodes drawn: the first {n} ({m} more not shown).",
      aboutServices: "Services listed: {n} ({m} more not shown).",
      aboutEvents: "Events listed: {n} ({m} more not shown).",
      aboutSeries: "Requests chart: {n} pods that served the most ({m} more serving pods not drawn), buckets of {b}s; the fair share is the dashed line.",
      aboutSyncs: "kube-proxy syncs recorded: the first {n} service ports of each ({p} ports and {s} syncs left out).",
      aboutTraces: "Traces: one new connection per traffic stream at {n} instants spread over the run.",
      aboutKubectl: "Table headers and STATUS values are kubectl's own words, as the terminal shows them.",
      aboutLink: "Link a moment: add #t=SECONDS&lang=en|zh&pod=NAME&svc=NAME to this file's address.",
      fairShare: "fair share",
      loadTitle: "Latency and load",
      loadHint: "Above: the share of each stream's served requests answered within x ms, over the whole run after warmup (log scale; dashed guides at p50, p99, p99.9). Below: each drawn pod's utilisation (busy slots over concurrency) and the requests waiting in its queue, per time bucket; the cursor is t and the legend gives the values at t.",
      latencyAxis: "latency (ms, log scale)",
      answeredWithin: "answered within",
      utilisation: "utilisation",
      queue: "queue (requests)",
      noLatency: "No stream served a request.",
      atT: "at t",
      rulesTitle: "Rules of {node} as they stood at {t} ({cmd}; synced at {s}): the lines this connection matched are highlighted",
      rulesCut: "{n} of {total} lines shown: every matched line with {c} around it",
      rulesNone: "The entry node's rules are not kept for this sample (see About this report).",
      linesLeftOut: "… {n} lines …",
      aboutRules: "Rules under a trace: the entry node's whole listing up to {n} lines, else each matched line with {c} lines around it; at most {m} lines over all traces ({k} traces without their rules).",
      aboutSlices: "EndpointSlices: those of the first {n} Services, recorded at each change ({m} changes left out); an endpoint's address is its pod's at t.",
      aboutLatency: "Latency: the CDFs of the first {n} streams that served requests ({m} more not drawn), {p} points each at most.",
      aboutLoad: "Load: utilisation and queue of the same pods as the requests chart, in the same buckets.",
      describe: "describe",
      clickSomething: "Click a pod, node or Service in the picture or a table row to see it as kubectl describe would.",
      reachTitle: "Who may connect to whom: NetworkPolicy",
      reachHint: "The truth table `kubesim reach --at` prints, for the policies in force at t: each group of pods (same labels, same namespace) against each other, on each port the destination declares or a Service targets. ✓ allow: may connect; ✗ deny: the CNI drops the connection, at the destination's ingress (in), the source's egress (out) or both; – the destination has no such port.",
      reachSpan: "Policies in force from {a} to {b}; the pods as they stood at {b}.",
      reachFromTo: "from \\ to",
      reachCaption: "port {p}: rows are sources, columns destinations",
      allow: "allow", deny: "deny",
      denyIn: "deny (in)", denyOut: "deny (out)", denyBoth: "deny (both)",
      reachNoPods: "No pod had an address while these policies were in force.",
      reachGroupsCut: "{m} more groups not shown (the first {n} by name are).",
      aboutReach: "Reach: one table per set of NetworkPolicies in force during the run (the first {n}; {m} more not kept), judged for the pods as they stood when the next set took effect or the run ended; at most {g} groups each.",
    },
    zh: {
      title: "kubesim 报告",
      play: "播放", pause: "暂停", speed: "速度",
      prevEvent: "◀ 上一事件", nextEvent: "下一事件 ▶",
      networks: "t 时刻的三层网络",
      networksHint: "上方是 Service，ClusterIP 保持不变；中间是节点，每个节点运行 kube-proxy；下方是 Pod（位于所在节点内），Pod 会被替换并获得新的 IP。箭头：所选 Service 在各节点规则中的端点（以该节点 kube-proxy 最近一次同步为准）；红色虚线：过期端点（Pod 正在终止或已不存在）。点击 Pod、节点或 Service 查看详情。",
      service: "Service",
      endpointsTitle: "t 时刻各节点 kube-proxy 已同步的端点",
      requestsTitle: "各 Pod 随时间处理的请求数",
      traceTitle: "跟踪一个请求",
      traceHint: "在采样时刻新建一个连接，逐条规则跟踪，与 `kubesim trace` 的输出相同。逐跳查看；命中的规则列在入口节点下方。",
      sample: "样本",
      aboutTitle: "关于本报告",
      seed: "随机种子", simulated: "模拟时长", mode: "模式",
      requestsSummary: "请求：发送 {sent}，成功 {served}，失败 {failed}",
      node: "节点", synced: "同步时刻", endpoints: "端点",
      neverSynced: "尚未同步",
      noPods: "此刻没有 Pod。",
      noEvents: "暂无事件。",
      noTraces: "本场景没有可跟踪的流量。",
      serviceNetwork: "Service 网络（ClusterIP，虚拟地址：存在于每个节点的规则中）",
      nodeNetwork: "节点网络（NodeIP）",
      podNetwork: "Pod 网络（Pod IP，每个节点一个网段）",
      unscheduled: "未调度",
      more: "另有 {n} 个",
      gone: "已删除",
      stale: "过期",
      failed: "失败",
      markers: "场景时间线事件",
      clusterEvents: "集群事件（警告为红色）",
      cursor: "t",
      perBucket: "每 {b} 秒的请求数",
      clickHint: "点击图表跳到该时刻。",
      step: "跳",
      all: "全部",
      tracedAt: "跟踪时刻",
      from: "来自", to: "目标",
      aboutSampling: "Pod 与节点的状态最多每 {r} 秒（模拟时间）记录一次（变化最多延迟这么久显示；一串变化中的最后一个是准确的）；Pod 的创建、删除和消失时刻是准确的。",
      aboutPods: "跟踪的 Pod：最先创建的 {n} 个（另有 {m} 个未显示）。",
      aboutNodes: "绘制的节点：前 {n} 个（另有 {m} 个未显示）。",
      aboutServices: "列出的 Service：{n} 个（另有 {m} 个未显示）。",
      aboutEvents: "列出的事件：{n} 个（另有 {m} 个未显示）。",
      aboutSeries: "请求图：处理请求最多的 {n} 个 Pod（另有 {m} 个未绘制），每 {b} 秒一格；虚线为平均份额。",
      aboutSyncs: "记录的 kube-proxy 同步：每次同步的前 {n} 个服务端口（省略了 {p} 个端口和 {s} 次同步）。",
      aboutTraces: "跟踪样本：每个流量流在整个运行中均匀分布的 {n} 个时刻各新建一个连接。",
      aboutKubectl: "表头和 STATUS 取值保留 kubectl 的原文，与终端中看到的一致。",
      aboutLink: "链接到某一时刻：在本文件地址后加上 #t=秒数&lang=en|zh&pod=名称&svc=名称。",
      fairShare: "平均份额",
      loadTitle: "延迟与负载",
      loadHint: "上：每个流量流中已成功的请求在 x 毫秒内得到响应的比例（整个运行期、预热之后；对数坐标；虚线为 p50、p99、p99.9）。下：图中各 Pod 的利用率（忙碌槽位 / 并发数）和队列中等待的请求数，按时间分格；竖线为 t 时刻，图例给出 t 时刻的数值。",
      latencyAxis: "延迟（毫秒，对数坐标）",
      answeredWithin: "响应比例",
      utilisation: "利用率",
      queue: "队列（请求数）",
      noLatency: "没有流量流成功处理请求。",
      atT: "t 时刻",
      rulesTitle: "{node} 在 {t} 时的规则（{cmd}；同步于 {s}）：高亮的是本连接命中的行",
      rulesCut: "显示 {total} 行中的 {n} 行：每个命中的行及其前后各 {c} 行",
      rulesNone: "本样本未保存入口节点的规则（见“关于本报告”）。",
      linesLeftOut: "…… 省略 {n} 行 ……",
      aboutRules: "跟踪下方的规则：入口节点的完整规则，最多 {n} 行；更长时只保留命中的行及其前后各 {c} 行；所有跟踪合计最多 {m} 行（{k} 个跟踪未保存规则）。",
      aboutSlices: "EndpointSlice：前 {n} 个 Service 的 EndpointSlice，每次变化时记录（省略了 {m} 次变化）；端点地址取 t 时刻该 Pod 的地址。",
      aboutLatency: "延迟：前 {n} 个成功处理请求的流量流的 CDF（另有 {m} 个未绘制），每条最多 {p} 个点。",
      aboutLoad: "负载：与请求图相同的 Pod、相同的时间分格的利用率和队列长度。",
      describe: "详情",
      clickSomething: "点击图中或表格中的 Pod、节点或 Service，以 kubectl describe 的形式查看。",
      reachTitle: "谁可以连接谁：NetworkPolicy",
      reachHint: "与 `kubesim reach --at` 输出相同的真值表，依据 t 时刻生效的策略：每组 Pod（同一命名空间、相同标签）对其他每组，在目标声明或 Service 指向的每个端口上。✓ allow：可以连接；✗ deny：CNI 丢弃该连接，原因在目标的入站（in）、源的出站（out）或两者（both）；– 目标没有该端口。",
      reachSpan: "策略生效时段：{a} 至 {b}；Pod 取 {b} 时的状态。",
      reachFromTo: "来源 \\ 目标",
      reachCaption: "端口 {p}：行为来源，列为目标",
      allow: "允许", deny: "拒绝",
      denyIn: "拒绝（in）", denyOut: "拒绝（out）", denyBoth: "拒绝（both）",
      reachNoPods: "这些策略生效期间没有 Pod 拥有地址。",
      reachGroupsCut: "另有 {m} 组未显示（按名称显示前 {n} 组）。",
      aboutReach: "可达性：运行期间每组生效的 NetworkPolicy 一张表（前 {n} 组；另有 {m} 组未保存），按下一组策略生效或运行结束时的 Pod 判定；每张表最多 {g} 组 Pod。",
    },
  };

  var state = { t: 0, lang: "en", pod: null, svc: null, playing: false, speed: 1, trace: -1, hop: -1 };

  function tr(key, args) {
    var s = (T[state.lang] && T[state.lang][key]) || T.en[key] || key;
    if (args) {
      Object.keys(args).forEach(function (k) {
        s = s.split("{" + k + "}").join(String(args[k]));
      });
    }
    return s;
  }

  function esc(s) {
    return String(s == null ? "" : s)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  function num(n) {
    return Number(n).toLocaleString("en-US");
  }

  // kubesim's instants: 42.000s, as in events.log.
  function instant(t) {
    return (Math.round(t * 1000) / 1000).toFixed(3) + "s";
  }

  // kubectl's HumanDuration (k8s.io/apimachinery/pkg/util/duration).
  function age(d) {
    var s = Math.floor(d + 1e-9);
    if (s < 0) s = 0;
    if (s < 120) return s + "s";
    var m = Math.floor(s / 60);
    if (m < 10) return s % 60 === 0 ? m + "m" : m + "m" + (s % 60) + "s";
    if (m < 180) return m + "m";
    var h = Math.floor(m / 60);
    if (h < 8) return m % 60 === 0 ? h + "h" : h + "h" + (m % 60) + "m";
    if (h < 48) return h + "h";
    return Math.floor(h / 24) + "d";
  }

  // ---- the cluster at t ----

  function podAt(p, t) {
    if (t < p.created) return null;
    if (p.gone != null && t >= p.gone) return null;
    var st = null;
    for (var i = 0; i < p.states.length; i++) {
      if (p.states[i][0] <= t) st = p.states[i];
      else break;
    }
    if (!st && p.states.length) st = p.states[0];
    var v = st
      ? { status: st[1], ready: st[2], ip: st[3], node: st[4], restarts: st[5] }
      : { status: "Pending", ready: "0/1", ip: null, node: null, restarts: 0 };
    if (p.deleted != null && t >= p.deleted) v.status = "Terminating";
    else if (v.status === "Terminating" || v.status === "Deleted") v.status = "Running";
    return v;
  }

  function nodeStatusAt(n, t) {
    var s = n.status.length ? n.status[0][1] : "Ready";
    for (var i = 0; i < n.status.length; i++) if (n.status[i][0] <= t) s = n.status[i][1];
    return s;
  }

  function syncAt(n, t) {
    var s = null;
    for (var i = 0; i < n.syncs.length; i++) {
      if (n.syncs[i][0] <= t) s = n.syncs[i];
      else break;
    }
    return s;
  }

  function svcKey(s) {
    return s.ns + "/" + s.name;
  }

  function selectedService() {
    for (var i = 0; i < D.services.length; i++) if (svcKey(D.services[i]) === state.svc) return D.services[i];
    return null;
  }

  // The synced endpoints of the chosen Service on node n at t: {at, eps: [[pod, ip:port, ready, serving, terminating]]}.
  function syncedEndpoints(n, t, svc) {
    var s = syncAt(n, t);
    if (!s || !svc) return null;
    var gen = D.generations[s[1]] || [];
    var eps = [];
    var seen = {};
    gen.forEach(function (k) {
      var p = D.ports[k];
      if (p.ns === svc.ns && p.svc === svc.name) {
        p.eps.forEach(function (e) {
          if (!seen[e[1]]) { seen[e[1]] = true; eps.push(e); }
        });
      }
    });
    return { at: s[0], eps: eps };
  }

  function podIndexByName(name) {
    for (var i = 0; i < D.pods.length; i++) if (D.pods[i].name === name) return i;
    return -1;
  }

  // ---- kubectl tables ----

  function namespaced() {
    var ns = {};
    D.pods.forEach(function (p) { ns[p.ns] = 1; });
    D.services.forEach(function (s) { ns[s.ns] = 1; });
    return Object.keys(ns).length > 1;
  }

  function table(el, head, rows) {
    var h = "<thead><tr>" + head.map(function (c) { return "<th>" + esc(c) + "</th>"; }).join("") + "</tr></thead><tbody>";
    h += rows.join("") + "</tbody>";
    el.className = "kubectl";
    el.innerHTML = h;
  }

  function renderPods(t) {
    var all = namespaced();
    var head = (all ? ["NAMESPACE"] : []).concat(["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"]);
    var rows = [];
    D.pods.forEach(function (p) {
      var v = podAt(p, t);
      if (!v) return;
      var cls = p.name === state.pod ? ' class="selected"' : "";
      var cells = (all ? [p.ns] : []).concat([p.name, v.ready, v.status, String(v.restarts), age(t - p.created), v.ip || "<none>", v.node || "<none>", "<none>", "<none>"]);
      rows.push("<tr" + cls + ' data-pod="' + esc(p.name) + '" data-ip="' + esc(v.ip || "") + '" data-status="' + esc(v.status) + '">' +
        cells.map(function (c, i) {
          var k = i === (all ? 3 : 2) ? ' class="' + esc(c) + '"' : "";
          return "<td" + k + ">" + esc(c) + "</td>";
        }).join("") + "</tr>");
    });
    var el = document.getElementById("pods");
    table(el, head, rows);
    if (!rows.length) el.querySelector("tbody").innerHTML = '<tr><td colspan="' + head.length + '">' + esc(tr("noPods")) + "</td></tr>";
  }

  function renderSvc(t) {
    var all = namespaced();
    var head = (all ? ["NAMESPACE"] : []).concat(["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]);
    var rows = D.services.map(function (s) {
      var cls = svcKey(s) === state.svc ? ' class="selected"' : "";
      var cells = (all ? [s.ns] : []).concat([s.name, s.type, s.clusterIP, s.externalIP, s.portsColumn, age(t)]);
      return "<tr" + cls + ' data-svc="' + esc(svcKey(s)) + '" data-cluster-ip="' + esc(s.clusterIP) + '">' +
        cells.map(function (c) { return "<td>" + esc(c) + "</td>"; }).join("") + "</tr>";
    });
    table(document.getElementById("svc"), head, rows);
  }

  function staleness(e, t) {
    var p = D.pods[e[0]];
    if (!p) return "";
    var v = podAt(p, t);
    if (!v) return "gone";
    if (v.status === "Terminating") return "Terminating";
    return "";
  }

  function renderEndpoints(t) {
    var svc = selectedService();
    var rows = D.nodes.map(function (n) {
      var s = syncedEndpoints(n, t, svc);
      var eps = !s ? esc(tr("neverSynced")) : s.eps.length ? s.eps.map(function (e) {
        var st = staleness(e, t);
        var flag = e[2] ? "" : e[4] ? " (terminating)" : " (not ready)";
        return '<span class="' + (st ? "stale" : "") + '" title="' + esc((D.pods[e[0]] || {}).name || "") + '">' + esc(e[1] + flag) + (st ? " ⚠ " + esc(st === "gone" ? tr("gone") : st) : "") + "</span>";
      }).join(", ") : "&lt;none&gt;";
      return "<tr data-node=\"" + esc(n.name) + "\"><td>" + esc(n.name) + "</td><td>" + (s ? esc(instant(s.at)) : "") + "</td><td>" + eps + "</td></tr>";
    });
    table(document.getElementById("endpoints"), [tr("node"), tr("synced"), (svc ? svc.name + " " : "") + tr("endpoints")], rows);
  }

  function renderEvents(t) {
    var shown = D.events.filter(function (e) { return e[0] <= t; });
    var tail = shown.slice(-25);
    var rows = tail.map(function (e) {
      var cls = e[1] === "Warning" ? ' class="NotReady"' : "";
      return "<tr><td>" + esc(instant(e[0])) + "</td><td>" + esc(age(t - e[0])) + "</td><td" + cls + ">" + esc(e[1]) + "</td><td>" + esc(e[2]) + "</td><td>" + esc(e[3]) + "</td><td>" + esc(e[4]) + "</td></tr>";
    });
    var el = document.getElementById("events");
    table(el, ["TIME", "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], rows);
    if (!rows.length) el.querySelector("tbody").innerHTML = '<tr><td colspan="6">' + esc(tr("noEvents")) + "</td></tr>";
  }

  // kubectl get endpointslices at t: the followed Services' slices as the controller last
  // wrote them; each endpoint's address is its pod's at t.
  function renderSlices(t) {
    var st = null;
    for (var i = 0; i < D.slices.length; i++) {
      if (D.slices[i][0] <= t) st = D.slices[i];
      else break;
    }
    // A slice's age: since the first state that holds it.
    var born = {};
    D.slices.forEach(function (x) {
      x[1].forEach(function (sl) { var k = sl[0] + "/" + sl[2]; if (born[k] == null) born[k] = x[0]; });
    });
    var all = namespaced();
    var head = (all ? ["NAMESPACE"] : []).concat(["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]);
    var rows = (st ? st[1] : []).map(function (sl) {
      var svc = null;
      D.services.forEach(function (s) { if (s.ns === sl[0] && s.name === sl[1]) svc = s; });
      var ips = [];
      sl[3].forEach(function (k) {
        var p = D.pods[k];
        var v = p ? podAt(p, t) : null;
        var ip = (v && v.ip) || (p && p.ip);
        if (ip) ips.push(ip);
      });
      var ports = svc ? svc.ports.map(function (p) { return /^[0-9]+$/.test(p.target) ? p.target : p.port; }).join(",") : "";
      var more = ips.length - 3 + sl[4];
      var col = ips.length ? ips.slice(0, 3).join(",") + (more > 0 ? " + " + more + " more..." : "") : "<unset>";
      var cells = (all ? [sl[0]] : []).concat([sl[2], "IPv4", ports || "<unset>", col, age(t - born[sl[0] + "/" + sl[2]])]);
      var sel = state.svc === sl[0] + "/" + sl[1] ? ' class="selected"' : "";
      return "<tr" + sel + ' data-slice="' + esc(sl[0] + "/" + sl[2]) + '" data-service="' + esc(sl[0] + "/" + sl[1]) + '" data-endpoints="' + esc(ips.join(",")) + '">' +
        cells.map(function (c) { return "<td>" + esc(c) + "</td>"; }).join("") + "</tr>";
    });
    var el = document.getElementById("endpointslices");
    table(el, head, rows);
    if (!rows.length) el.querySelector("tbody").innerHTML = '<tr><td colspan="' + head.length + '">No resources found.</td></tr>';
  }

  // ---- the three networks ----

  var SVGNS = "http://www.w3.org/2000/svg";

  // A pod's name cut to fit its box: the start and the suffix tell pods apart.
  function shortName(name, width) {
    var fit = Math.max(12, Math.floor((width - 16) / 6.6));
    if (name.length <= fit) return name;
    var tail = Math.min(name.length, Math.max(6, fit - 12));
    return name.slice(0, fit - tail - 1) + "…" + name.slice(-tail);
  }

  function podColour(status) {
    if (status === "Running") return "#2e8b57";
    if (status === "Terminating") return "#d98a1e";
    if (status === "Pending" || status === "ContainerCreating") return "#7f8c8d";
    return "#c0392b";
  }

  function renderNetworks(t) {
    var svc = selectedService();
    var nodes = D.nodes;
    var pods = [];
    D.pods.forEach(function (p, i) {
      var v = podAt(p, t);
      if (v) pods.push({ i: i, p: p, v: v });
    });
    var cols0 = nodes.length + (pods.some(function (x) { return !x.v.node; }) ? 1 : 0);
    var colW = Math.max(180, Math.min(330, 1160 / Math.max(1, cols0) - 24));
    var W = Math.max(1200, 40 + Math.max(1, cols0) * (colW + 24));
    var services = D.services.filter(function (s) { return s.clusterIP !== "None"; }).slice(0, 8);
    var svcW = Math.min(260, (W - 40) / Math.max(1, services.length) - 10);
    // Ghosts: endpoints in some node's rules whose pod is gone.
    var ghosts = {};
    var arrows = [];
    nodes.forEach(function (n, ni) {
      var s = syncedEndpoints(n, t, svc);
      if (!s) return;
      s.eps.forEach(function (e) {
        var st = staleness(e, t);
        if (st === "gone") ghosts[e[0]] = true;
        arrows.push({ node: ni, pod: e[0], stale: st, ready: e[2] });
      });
    });
    var byNode = {};
    var cols = nodes.map(function (n) { return n.name; });
    var unscheduled = false;
    function place(idx, p, nodeName, ghost, v) {
      var c = cols.indexOf(nodeName);
      if (c < 0) { c = nodes.length; unscheduled = true; }
      (byNode[c] = byNode[c] || []).push({ i: idx, p: p, ghost: ghost, v: v });
    }
    pods.forEach(function (x) { place(x.i, x.p, x.v.node, false, x.v); });
    Object.keys(ghosts).forEach(function (k) {
      var p = D.pods[k];
      place(Number(k), p, p.node, true, null);
    });
    var maxPods = 14, podH = 40;
    var deepest = 1;
    Object.keys(byNode).forEach(function (c) { deepest = Math.max(deepest, Math.min(maxPods + 1, byNode[c].length)); });
    var yS = 44, hS = 58, yN = 170, hN = 62, yP = 290;
    var H = yP + deepest * (podH + 8) + 30;
    var ncols = nodes.length + (unscheduled ? 1 : 0);
    var svg = '<svg xmlns="' + SVGNS + '" viewBox="0 0 ' + W + " " + H + '" role="img">';
    svg += '<defs><marker id="ah" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#3b6fb6"/></marker>' +
      '<marker id="ahs" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#c0392b"/></marker></defs>';
    svg += '<rect x="0" y="0" width="' + W + '" height="' + (hS + yS + 16) + '" fill="#f4effa"/>';
    svg += '<rect x="0" y="' + (yN - 26) + '" width="' + W + '" height="' + (hN + 40) + '" fill="#eef3fa"/>';
    svg += '<rect x="0" y="' + (yP - 26) + '" width="' + W + '" height="' + (H - yP + 26) + '" fill="#eef8f1"/>';
    svg += '<text x="10" y="18" fill="#8a4fbf" font-weight="bold">' + esc(tr("serviceNetwork")) + "</text>";
    svg += '<text x="10" y="' + (yN - 10) + '" fill="#3b6fb6" font-weight="bold">' + esc(tr("nodeNetwork")) + "</text>";
    svg += '<text x="10" y="' + (yP - 10) + '" fill="#2e8b57" font-weight="bold">' + esc(tr("podNetwork")) + "</text>";
    var colX = function (c) { return 20 + c * (W - 40) / Math.max(1, ncols) + ((W - 40) / Math.max(1, ncols) - colW) / 2; };
    var podPos = {};
    var svcPos = {};
    services.forEach(function (s, k) {
      var x = 20 + k * (svcW + 10);
      var on = svcKey(s) === state.svc;
      svcPos[svcKey(s)] = x + svcW / 2;
      var ports = s.ports.map(function (p) { return p.port + (p.nodePort ? ":" + p.nodePort : "") + "/" + p.protocol; }).join(",");
      svg += '<g class="svc" data-svc="' + esc(svcKey(s)) + '" style="cursor:pointer"><rect x="' + x + '" y="' + yS + '" width="' + svcW + '" height="' + hS + '" rx="6" fill="#fff" stroke="#8a4fbf" stroke-width="' + (on ? 3 : 1) + '"/>' +
        '<text x="' + (x + 8) + '" y="' + (yS + 18) + '" font-weight="bold">' + esc(s.name) + ' <tspan fill="#5b6477" font-weight="normal">' + esc(s.type) + "</tspan></text>" +
        '<text x="' + (x + 8) + '" y="' + (yS + 35) + '" class="mono" fill="#8a4fbf">' + esc(s.clusterIP) + "</text>" +
        '<text x="' + (x + 8) + '" y="' + (yS + 50) + '" class="mono" fill="#5b6477">' + esc(ports) + "</text></g>";
    });
    nodes.forEach(function (n, c) {
      var x = colX(c);
      var st = nodeStatusAt(n, t);
      var bad = st.indexOf("NotReady") === 0;
      svg += '<g class="node" data-node="' + esc(n.name) + '" style="cursor:pointer"><rect x="' + x + '" y="' + yN + '" width="' + colW + '" height="' + hN + '" rx="6" fill="#fff" stroke="' + (bad ? "#c0392b" : "#3b6fb6") + '" stroke-width="2"/>' +
        '<text x="' + (x + 8) + '" y="' + (yN + 18) + '" font-weight="bold">' + esc(n.name) + "</text>" +
        '<text x="' + (x + 8) + '" y="' + (yN + 34) + '" class="mono" fill="#3b6fb6">' + esc(n.ip) + " · " + esc(n.cidr) + "</text>" +
        '<text x="' + (x + 8) + '" y="' + (yN + 51) + '" fill="' + (bad ? "#c0392b" : "#5b6477") + '">' + esc(st) + "</text></g>";
      if (svc && svcPos[svcKey(svc)] != null) {
        svg += '<line x1="' + svcPos[svcKey(svc)] + '" y1="' + (yS + hS) + '" x2="' + (x + colW / 2) + '" y2="' + yN + '" stroke="#8a4fbf" stroke-dasharray="2 4" stroke-width="1.2"/>';
      }
    });
    if (unscheduled) {
      var ux = colX(nodes.length);
      svg += '<text x="' + (ux + 8) + '" y="' + (yN + 30) + '" fill="#7f8c8d">(' + esc(tr("unscheduled")) + ")</text>";
    }
    Object.keys(byNode).forEach(function (c) {
      var list = byNode[c];
      var x = colX(Number(c));
      list.slice(0, maxPods).forEach(function (q, k) {
        var y = yP + k * (podH + 8);
        podPos[q.i] = { x: x, y: y };
        var sel = q.p.name === state.pod;
        if (q.ghost) {
          svg += '<g class="pod" data-pod="' + esc(q.p.name) + '"><rect x="' + x + '" y="' + y + '" width="' + colW + '" height="' + podH + '" rx="5" fill="#fff" stroke="#c0392b" stroke-dasharray="5 4"/>' +
            '<text x="' + (x + 8) + '" y="' + (y + 16) + '" fill="#c0392b">' + esc(shortName(q.p.name, colW)) + "</text>" +
            '<text x="' + (x + 8) + '" y="' + (y + 32) + '" class="mono" fill="#c0392b">' + esc(q.p.ip || "") + " · " + esc(tr("gone")) + "</text></g>";
          return;
        }
        var col = podColour(q.v.status);
        svg += '<g class="pod" data-pod="' + esc(q.p.name) + '" style="cursor:pointer"><rect x="' + x + '" y="' + y + '" width="' + colW + '" height="' + podH + '" rx="5" fill="' + (sel ? "#fff3c4" : "#fff") + '" stroke="' + col + '" stroke-width="' + (sel ? 3 : 1.5) + '"/>' +
          '<text x="' + (x + 8) + '" y="' + (y + 16) + '">' + esc(shortName(q.p.name, colW)) + "</text>" +
          '<text x="' + (x + 8) + '" y="' + (y + 32) + '" class="mono" fill="' + col + '">' + esc(q.v.ip || "<none>") + " · " + esc(q.v.status) + "</text></g>";
      });
      if (list.length > maxPods) {
        svg += '<text x="' + (x + 8) + '" y="' + (yP + maxPods * (podH + 8) + 16) + '" fill="#5b6477">' + esc(tr("more", { n: list.length - maxPods })) + "</text>";
      }
    });
    arrows.forEach(function (a) {
      var pp = podPos[a.pod];
      if (!pp) return;
      var x1 = colX(a.node) + colW / 2, y1 = yN + hN;
      var x2 = pp.x + 12 + (a.node % 6) * 6, y2 = pp.y + podH / 2;
      var bad = a.stale !== "";
      var midY = (y1 + yP - 26) / 2 + 6;
      var d = "M" + x1 + "," + y1 + " C" + x1 + "," + (midY + 40) + " " + (pp.x - 30) + "," + y2 + " " + (pp.x - 1) + "," + y2;
      if (Math.abs(x1 - (pp.x + colW / 2)) < colW / 2) {
        d = "M" + (pp.x - 14 + (a.node % 4) * 3) + "," + y1 + " L" + (pp.x - 14 + (a.node % 4) * 3) + "," + y2 + " L" + (pp.x - 1) + "," + y2;
      }
      svg += '<path d="' + d + '" fill="none" stroke="' + (bad ? "#c0392b" : "#3b6fb6") + '" stroke-width="1.6" opacity="' + (bad ? 0.95 : 0.65) + '"' + (bad ? ' stroke-dasharray="6 4" marker-end="url(#ahs)"' : ' marker-end="url(#ah)"') + "/>";
      void x2;
    });
    svg += "</svg>";
    var el = document.getElementById("networks");
    el.innerHTML = svg;
  }

  // ---- requests per pod over time ----

  var PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"];

  function renderRequests(t) {
    var R = D.requests;
    var W = 1200, H = 330, L = 60, Rm = 20, Tp = 30, B = 56;
    var n = R.failed.length;
    var max = 1;
    R.series.forEach(function (s) { s.counts.forEach(function (c) { if (c > max) max = c; }); });
    R.failed.forEach(function (c) { if (c > max) max = c; });
    var niceMax = Math.pow(10, Math.floor(Math.log10(max)));
    [1, 2, 2.5, 5, 10].some(function (m) { if (niceMax * m >= max) { niceMax = niceMax * m; return true; } return false; });
    var x = function (s) { return L + (W - L - Rm) * s / Math.max(D.end, 1e-9); };
    var y = function (v) { return Tp + (H - Tp - B) * (1 - v / niceMax); };
    var svg = '<svg xmlns="' + SVGNS + '" viewBox="0 0 ' + W + " " + H + '" role="img" id="requests-svg">';
    svg += '<rect x="' + L + '" y="' + Tp + '" width="' + (W - L - Rm) + '" height="' + (H - Tp - B) + '" fill="#fbfcfe" stroke="#d5dae3"/>';
    for (var k = 0; k <= 4; k++) {
      var v = niceMax * k / 4;
      svg += '<line x1="' + L + '" x2="' + (W - Rm) + '" y1="' + y(v) + '" y2="' + y(v) + '" stroke="#e3e7ee"/>';
      svg += '<text x="' + (L - 6) + '" y="' + (y(v) + 4) + '" text-anchor="end" font-size="11" fill="#5b6477">' + num(Math.round(v * 100) / 100) + "</text>";
    }
    var step = D.end <= 20 ? 2 : D.end <= 60 ? 5 : D.end <= 180 ? 15 : D.end <= 600 ? 60 : Math.ceil(D.end / 600) * 60;
    for (var s = 0; s <= D.end + 1e-9; s += step) {
      svg += '<text x="' + x(s) + '" y="' + (H - B + 16) + '" text-anchor="middle" font-size="11" fill="#5b6477">' + s + "s</text>";
    }
    svg += '<text x="' + (L - 50) + '" y="' + (Tp - 10) + '" font-size="11" fill="#5b6477">' + esc(tr("perBucket", { b: R.bucket })) + "</text>";
    // Fair share: the served requests of the drawn pods spread over the pods serving then.
    var line = function (counts) {
      return counts.map(function (c, b) { return (b ? "L" : "M") + x((b + 0.5) * R.bucket).toFixed(1) + "," + y(c).toFixed(1); }).join(" ");
    };
    R.series.forEach(function (s, k) {
      var p = D.pods[s.pod];
      var sel = p && p.name === state.pod;
      svg += '<path d="' + line(s.counts) + '" fill="none" stroke="' + PALETTE[k % PALETTE.length] + '" stroke-width="' + (sel ? 3.5 : 1.6) + '"><title>' + esc(p ? p.name : "") + "</title></path>";
    });
    var fair = [];
    for (var b = 0; b < n; b++) {
      var sum = 0, serving = 0;
      R.series.forEach(function (s) { if (s.counts[b] > 0) { sum += s.counts[b]; serving++; } });
      fair.push(serving ? sum / serving : 0);
    }
    svg += '<path d="' + line(fair) + '" fill="none" stroke="#1d2433" stroke-dasharray="5 4" stroke-width="1.2"><title>' + esc(tr("fairShare")) + "</title></path>";
    if (R.failed.some(function (c) { return c > 0; })) {
      svg += '<path d="' + line(R.failed) + '" fill="none" stroke="#c0392b" stroke-width="2.2"><title>' + esc(tr("failed")) + "</title></path>";
    }
    // Cluster events as ticks under the plot; the scenario's timeline events as labelled lines.
    D.events.forEach(function (e) {
      var warn = e[1] === "Warning";
      svg += '<line x1="' + x(e[0]) + '" x2="' + x(e[0]) + '" y1="' + (H - B + 24) + '" y2="' + (H - B + 34) + '" stroke="' + (warn ? "#c0392b" : "#9aa3b2") + '" stroke-width="1.2"><title>' + esc(instant(e[0]) + " " + e[2] + " " + e[3] + ": " + e[4]) + "</title></line>";
    });
    svg += '<text x="' + (L - 6) + '" y="' + (H - B + 33) + '" text-anchor="end" font-size="10" fill="#5b6477">' + esc(state.lang === "zh" ? "事件" : "events") + "</text>";
    // Labels for the telling ones (Warnings, then lost nodes, evictions, kills, back-offs), in
    // one row where they fit; every event keeps its tick and its message on hover.
    var rank = function (e) {
      if (e[1] === "Warning") return 0;
      return /^(NodeNotReady|NodeReady|TaintManagerEviction|Evicted|Killing|BackOff|Unhealthy|FailedScheduling)$/.test(e[2]) ? 1 : 9;
    };
    var cands = D.events.filter(function (e) { return rank(e) < 9; }).slice(0, 400);
    cands.sort(function (a, b) { return rank(a) - rank(b) || a[0] - b[0]; });
    var taken = [];
    cands.forEach(function (e) {
      var label = e[2] + " " + e[3].replace(/^[a-z]+\//, "");
      if (label.length > 34) label = label.slice(0, 33) + "…";
      var w = label.length * 5.6, x0 = x(e[0]) + 3;
      if (x0 + w > W - Rm) x0 = x(e[0]) - 3 - w;
      var clear = taken.every(function (r) { return x0 + w + 8 < r[0] || r[1] + 8 < x0; });
      if (!clear) return;
      taken.push([x0, x0 + w]);
      svg += '<text class="event-label" x="' + x0.toFixed(1) + '" y="' + (H - B + 46) + '" font-size="10" fill="' + (e[1] === "Warning" ? "#c0392b" : "#5b6477") + '"><title>' + esc(instant(e[0]) + " " + e[1] + " " + e[2] + " " + e[3] + ": " + e[4]) + "</title>" + esc(label) + "</text>";
    });
    D.markers.forEach(function (m, k) {
      svg += '<line x1="' + x(m[0]) + '" x2="' + x(m[0]) + '" y1="' + Tp + '" y2="' + (H - B) + '" stroke="#8a4fbf" stroke-dasharray="3 3"/>';
      svg += '<text x="' + (x(m[0]) + 3) + '" y="' + (Tp + 12 + (k % 3) * 12) + '" font-size="11" fill="#8a4fbf">' + esc(m[1]) + "</text>";
    });
    svg += '<line id="cursor" x1="' + x(t) + '" x2="' + x(t) + '" y1="' + (Tp - 6) + '" y2="' + (H - B + 36) + '" stroke="#1d2433" stroke-width="2"/>';
    svg += '<text x="' + x(t) + '" y="' + (Tp - 10) + '" text-anchor="middle" font-size="11" font-weight="bold">' + esc(instant(t)) + "</text>";
    svg += '<rect id="requests-hit" x="' + L + '" y="0" width="' + (W - L - Rm) + '" height="' + H + '" fill="transparent" style="cursor:crosshair"/>';
    svg += "</svg>";
    var el = document.getElementById("requests");
    el.innerHTML = svg;
    var hit = document.getElementById("requests-hit");
    hit.addEventListener("click", function (ev) {
      var r = el.querySelector("svg").getBoundingClientRect();
      var sx = (ev.clientX - r.left) * W / r.width;
      setT((sx - L) / (W - L - Rm) * D.end);
    });
    var legend = R.series.map(function (s, k) {
      var p = D.pods[s.pod];
      return '<span data-pod="' + esc(p.name) + '"><i style="background:' + PALETTE[k % PALETTE.length] + '"></i>' + esc(p.name) + "</span>";
    });
    legend.push('<span><i style="background:#1d2433;height:.12em"></i>' + esc(tr("fairShare")) + "</span>");
    legend.push('<span><i style="background:#c0392b"></i>' + esc(tr("failed")) + "</span>");
    legend.push('<span><i style="background:#8a4fbf;height:.12em"></i>' + esc(tr("markers")) + "</span>");
    legend.push('<span><i style="background:#9aa3b2;width:.15em;height:.8em"></i>' + esc(tr("clusterEvents")) + "</span>");
    document.getElementById("legend").innerHTML = legend.join("") + "<br>" + esc(tr("clickHint"));
  }

  // ---- latency and load ----

  function niceTop(max) {
    if (!(max > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(max)));
    var top = p * 10;
    [1, 2, 2.5, 5, 10].some(function (m) { if (p * m >= max) { top = p * m; return true; } return false; });
    return top;
  }

  function renderLatency() {
    var W = 560, H = 300, L = 56, R = 44, Tp = 24, B = 40;
    var curves = D.latency;
    var lo = Infinity, hi = 0;
    curves.forEach(function (c) { c.points.forEach(function (p) { lo = Math.min(lo, p[0]); hi = Math.max(hi, p[0]); }); });
    if (!curves.length) { lo = 0.1; hi = 100; }
    var d0 = Math.floor(Math.log10(Math.max(lo, 1e-4))), d1 = Math.ceil(Math.log10(Math.max(hi, lo * 10)));
    if (d1 <= d0) d1 = d0 + 1;
    var x = function (ms) { return L + (W - L - R) * (Math.log10(Math.max(ms, 1e-6)) - d0) / (d1 - d0); };
    var y = function (q) { return Tp + (H - Tp - B) * (1 - q); };
    var svg = '<svg xmlns="' + SVGNS + '" viewBox="0 0 ' + W + " " + H + '" role="img" id="latency-svg">';
    svg += '<rect x="' + L + '" y="' + Tp + '" width="' + (W - L - R) + '" height="' + (H - Tp - B) + '" fill="#fbfcfe" stroke="#d5dae3"/>';
    for (var d = d0; d <= d1; d++) {
      var v = Math.pow(10, d);
      svg += '<line x1="' + x(v) + '" x2="' + x(v) + '" y1="' + Tp + '" y2="' + (H - B) + '" stroke="#e3e7ee"/>';
      svg += '<text x="' + x(v) + '" y="' + (H - B + 15) + '" text-anchor="middle" font-size="11" fill="#5b6477">' + (v >= 1 ? v : Number(v.toPrecision(1))) + "</text>";
    }
    [0, 0.25, 0.5, 0.75, 1].forEach(function (q) {
      svg += '<text x="' + (L - 6) + '" y="' + (y(q) + 4) + '" text-anchor="end" font-size="11" fill="#5b6477">' + Math.round(q * 100) + "%</text>";
    });
    // The guides' labels right of the plot: p99.9 above its line, p99 below its own.
    [[0.5, "p50", 3], [0.99, "p99", 10], [0.999, "p99.9", -2]].forEach(function (g) {
      svg += '<line x1="' + L + '" x2="' + (W - R) + '" y1="' + y(g[0]) + '" y2="' + y(g[0]) + '" stroke="#9aa3b2" stroke-dasharray="3 4"/>';
      svg += '<text x="' + (W - R + 3) + '" y="' + (y(g[0]) + g[2]) + '" font-size="10" fill="#5b6477">' + g[1] + "</text>";
    });
    curves.forEach(function (c, k) {
      var d = "", prev = 0;
      c.points.forEach(function (p, i) {
        d += (i ? "L" : "M") + x(p[0]).toFixed(1) + "," + y(prev).toFixed(1) + "L" + x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1);
        prev = p[1];
      });
      svg += '<path class="cdf" data-stream="' + esc(c.stream) + '" d="' + d + '" fill="none" stroke="' + PALETTE[k % PALETTE.length] + '" stroke-width="2"><title>' + esc(c.stream + ": p50 " + c.p50 + " ms, p99 " + c.p99 + " ms, p99.9 " + c.p999 + " ms") + "</title></path>";
    });
    if (!curves.length) svg += '<text x="' + (W / 2) + '" y="' + (H / 2) + '" text-anchor="middle" fill="#5b6477">' + esc(tr("noLatency")) + "</text>";
    svg += '<text x="' + ((L + W - R) / 2) + '" y="' + (H - 6) + '" text-anchor="middle" font-size="11" fill="#5b6477">' + esc(tr("latencyAxis")) + "</text>";
    svg += '<text x="' + (L - 40) + '" y="' + (Tp - 10) + '" font-size="11" fill="#5b6477">' + esc(tr("answeredWithin")) + "</text>";
    svg += "</svg>";
    var rows = curves.map(function (c, k) {
      return '<span data-stream="' + esc(c.stream) + '"><i style="background:' + PALETTE[k % PALETTE.length] + '"></i>' + esc(c.stream) + " · p50 " + c.p50 + " · p99 " + c.p99 + " · p99.9 " + c.p999 + " ms</span>";
    });
    document.getElementById("latency").innerHTML = svg + '<div class="legend-line">' + rows.join(" ") + "</div>";
  }

  function renderLoad(t) {
    var R0 = D.requests;
    var W = 1200, Hh = 150, L = 60, Rm = 20, gap = 26;
    var H = 2 * Hh + gap + 30;
    var x = function (s) { return L + (W - L - Rm) * s / Math.max(D.end, 1e-9); };
    var qmax = 0;
    R0.series.forEach(function (s) { (s.queue || []).forEach(function (q) { if (q != null && q > qmax) qmax = q; }); });
    var qtop = niceTop(Math.max(qmax, 1));
    var svg = '<svg xmlns="' + SVGNS + '" viewBox="0 0 ' + W + " " + H + '" role="img" id="load-svg">';
    var bucket = Math.floor(t / R0.bucket);
    [[0, "util", 1, tr("utilisation")], [Hh + gap, "queue", qtop, tr("queue")]].forEach(function (panel) {
      var top = panel[0] + 10, key = panel[1], ymax = panel[2];
      var y = function (v) { return top + (Hh - 10) * (1 - v / ymax); };
      svg += '<rect x="' + L + '" y="' + top + '" width="' + (W - L - Rm) + '" height="' + (Hh - 10) + '" fill="#fbfcfe" stroke="#d5dae3"/>';
      [0, 0.5, 1].forEach(function (f) {
        var v = ymax * f;
        svg += '<text x="' + (L - 6) + '" y="' + (y(v) + 4) + '" text-anchor="end" font-size="11" fill="#5b6477">' + (key === "util" ? Math.round(v * 100) + "%" : num(Math.round(v * 100) / 100)) + "</text>";
      });
      svg += '<text x="' + (L + 4) + '" y="' + (top + 12) + '" font-size="11" fill="#5b6477">' + esc(panel[3]) + "</text>";
      R0.series.forEach(function (s, k) {
        var vals = s[key] || [];
        var d = "", pen = false;
        vals.forEach(function (v, b) {
          if (v == null) { pen = false; return; }
          d += (pen ? "L" : "M") + x((b + 0.5) * R0.bucket).toFixed(1) + "," + y(v).toFixed(1);
          pen = true;
        });
        var p = D.pods[s.pod];
        var sel = p && p.name === state.pod;
        if (d) svg += '<path d="' + d + '" fill="none" stroke="' + PALETTE[k % PALETTE.length] + '" stroke-width="' + (sel ? 3 : 1.4) + '"><title>' + esc(p ? p.name : "") + "</title></path>";
      });
      svg += '<line x1="' + x(t) + '" x2="' + x(t) + '" y1="' + (top - 4) + '" y2="' + (top + Hh - 6) + '" stroke="#1d2433" stroke-width="2"/>';
    });
    var step = D.end <= 20 ? 2 : D.end <= 60 ? 5 : D.end <= 180 ? 15 : D.end <= 600 ? 60 : Math.ceil(D.end / 600) * 60;
    for (var s = 0; s <= D.end + 1e-9; s += step) {
      svg += '<text x="' + x(s) + '" y="' + (H - 8) + '" text-anchor="middle" font-size="11" fill="#5b6477">' + s + "s</text>";
    }
    svg += "</svg>";
    document.getElementById("load").innerHTML = svg;
    var legend = R0.series.map(function (s, k) {
      var p = D.pods[s.pod];
      var u = (s.util || [])[bucket], q = (s.queue || [])[bucket];
      return '<span data-pod="' + esc(p.name) + '" data-util="' + (u == null ? "" : u) + '"><i style="background:' + PALETTE[k % PALETTE.length] + '"></i>' + esc(p.name) + ": " +
        (u == null ? "–" : Math.round(u * 100) + "%") + " · " + (q == null ? "–" : q) + "</span>";
    });
    document.getElementById("load-legend").innerHTML = esc(tr("atT") + " " + instant(t) + " (" + tr("utilisation") + " · " + tr("queue") + "): ") + legend.join("");
  }

  // ---- follow a request ----

  function traceIndexAt(t) {
    var best = -1;
    D.traces.forEach(function (s, i) { if (s.at <= t + 1e-9 && (best < 0 || D.traces[best].at <= s.at)) best = i; });
    if (best < 0 && D.traces.length) best = 0;
    return best;
  }

  function renderTracePick() {
    var sel = document.getElementById("trace-pick");
    sel.innerHTML = D.traces.map(function (s, i) {
      return '<option value="' + i + '">' + esc(instant(s.at) + " · " + s.stream + " · " + tr("from") + " " + s.from + " " + tr("to") + " " + s.to) + "</option>";
    }).join("");
  }

  function renderTrace(t) {
    var pre = document.getElementById("trace");
    var stepsEl = document.getElementById("trace-steps");
    if (!D.traces.length) {
      pre.textContent = tr("noTraces");
      stepsEl.innerHTML = "";
      renderRules(null);
      return;
    }
    var i = state.trace >= 0 ? state.trace : traceIndexAt(t);
    document.getElementById("trace-pick").value = String(i);
    var s = D.traces[i];
    var lines = s.text.replace(/\n+$/, "").split("\n");
    // A hop starts at the client line and at each line with a time offset.
    var hops = [];
    lines.forEach(function (l, k) { if (/^client\b/.test(l) || /^\s+\+[0-9.]+m?s\b/.test(l)) hops.push(k); });
    var hop = Math.min(state.hop, hops.length - 1);
    var from = hop >= 0 ? hops[hop] : -1, to = hop >= 0 ? (hops[hop + 1] || lines.length) : -1;
    pre.innerHTML = "# " + esc(tr("tracedAt")) + " " + esc(instant(s.at)) + " · " + esc(s.stream) + "\n" + lines.map(function (l, k) {
      var cls = [];
      if (hops.indexOf(k) >= 0) cls.push("hop");
      if (/\b(DNAT|SNAT)\b/.test(l)) cls.push("nat");
      if (k >= from && k < to) cls.push("hit");
      return cls.length ? '<span class="' + cls.join(" ") + '">' + esc(l) + "</span>" : esc(l);
    }).join("\n");
    var btn = ['<button type="button" data-hop="-1" class="' + (hop < 0 ? "on" : "") + '">' + esc(tr("all")) + "</button>"];
    hops.forEach(function (k, j) {
      btn.push('<button type="button" data-hop="' + j + '" class="' + (hop === j ? "on" : "") + '">' + esc(tr("step")) + " " + (j + 1) + ": " + esc(lines[k].trim().slice(0, 48)) + "</button>");
    });
    stepsEl.innerHTML = btn.join("");
    renderRules(s);
  }

  // The entry node's rules as they stood when the sample was traced, matched lines marked.
  function renderRules(s) {
    var title = document.getElementById("rules-title");
    var pre = document.getElementById("rules");
    var r = s && s.rules != null ? D.rules[s.rules] : null;
    if (!r) {
      title.textContent = s ? tr("rulesNone") : "";
      pre.innerHTML = "";
      return;
    }
    var head = tr("rulesTitle", { node: r.node, t: instant(s.at), cmd: r.command, s: r.synced == null ? tr("neverSynced") : instant(r.synced) });
    if (r.lines.length < r.total) head += " · " + tr("rulesCut", { n: num(r.lines.length), total: num(r.total), c: D.bounds.rulesContext });
    title.textContent = head;
    var width = String(r.total).length;
    var out = [], next = 1;
    r.lines.forEach(function (l) {
      if (l[0] > next) out.push('<span class="gap">' + esc(tr("linesLeftOut", { n: num(l[0] - next) })) + "</span>");
      var n = '<span class="ln">' + (Array(width + 1).join(" ") + l[0]).slice(-width) + "  </span>";
      out.push(l[2] ? '<span class="hit" data-line="' + l[0] + '">' + n + esc(l[1]) + "</span>" : n + esc(l[1]));
      next = l[0] + 1;
    });
    if (next <= r.total) out.push('<span class="gap">' + esc(tr("linesLeftOut", { n: num(r.total - next + 1) })) + "</span>");
    pre.innerHTML = out.join("\n");
    // The first matched line in view, in a long listing.
    var hit = pre.querySelector(".hit");
    if (hit) pre.scrollTop = Math.max(0, hit.offsetTop - pre.offsetTop - 40);
  }

  // ---- details (kubectl describe) ----

  function describePod(p, t) {
    var v = podAt(p, t);
    var lines = ["Name:         " + p.name, "Namespace:    " + p.ns, "Node:         " + ((v && v.node) || p.node || "<none>"),
      "Labels:       " + (p.labels || "<none>"), "Status:       " + (v ? v.status : "(" + tr("gone") + ")"),
      "IP:           " + ((v && v.ip) || p.ip || "<none>"), "Controlled By: " + (p.owner || "<none>"),
      "Created:      " + instant(p.created), "Deleted:      " + (p.deleted != null ? instant(p.deleted) : "<none>"),
      "Gone:         " + (p.gone != null ? instant(p.gone) : "<none>"),
      "Served:       " + num(p.served) + "   Failed: " + num(p.failed), "Events:"];
    D.events.forEach(function (e) {
      if (e[3] === "pod/" + p.name && e[0] <= t) lines.push("  " + instant(e[0]) + "  " + e[1] + "  " + e[2] + "  " + e[4]);
    });
    return lines.join("\n");
  }

  function describeNode(n, t) {
    var lines = ["Name:         " + n.name, "InternalIP:   " + n.ip, "PodCIDR:      " + n.cidr, "Status:       " + nodeStatusAt(n, t),
      "Kubelet:      " + n.version, "kube-proxy syncs until t: " + n.syncs.filter(function (s) { return s[0] <= t; }).length, "Non-terminated Pods:"];
    D.pods.forEach(function (p) {
      var v = podAt(p, t);
      if (v && v.node === n.name) lines.push("  " + p.ns + "/" + p.name + "  " + (v.ip || "<none>") + "  " + v.status);
    });
    return lines.join("\n");
  }

  function describeSvc(s, t) {
    var lines = ["Name:         " + s.name, "Namespace:    " + s.ns, "Selector:     " + (s.selector || "<none>"), "Type:         " + s.type,
      "IP:           " + s.clusterIP];
    s.ports.forEach(function (p) {
      lines.push("Port:         " + p.port + "/" + p.protocol + "   TargetPort: " + p.target + "/" + p.protocol + (p.nodePort ? "   NodePort: " + p.nodePort + "/" + p.protocol : ""));
    });
    D.nodes.forEach(function (n) {
      var e = syncedEndpoints(n, t, s);
      lines.push("Endpoints on " + n.name + ": " + (e ? (e.eps.map(function (x) { return x[1]; }).join(",") || "<none>") + "  (synced " + instant(e.at) + ")" : tr("neverSynced")));
    });
    return lines.join("\n");
  }

  var detail = null;
  function renderDetails(t) {
    var el = document.getElementById("details");
    if (!detail && state.pod) detail = { kind: "pod", name: state.pod };
    if (!detail) { el.textContent = tr("clickSomething"); return; }
    if (detail.kind === "pod") {
      var i = podIndexByName(detail.name);
      el.textContent = i >= 0 ? describePod(D.pods[i], t) : "";
    } else if (detail.kind === "node") {
      D.nodes.forEach(function (n) { if (n.name === detail.name) el.textContent = describeNode(n, t); });
    } else {
      D.services.forEach(function (s) { if (svcKey(s) === detail.name) el.textContent = describeSvc(s, t); });
    }
  }

  // ---- NetworkPolicy: who may connect to whom ----

  // The table of the policies in force at t: the last set that took effect by t.
  function reachTableAt(t) {
    var ts = D.reach.tables, k = 0;
    for (var i = 0; i < ts.length; i++) if (ts[i].from <= t) k = i;
    return ts[k];
  }

  // One grid per port, as `kubesim reach` prints them: each cell says its verdict in words
  // and a sign (✓ / ✗), its colour only repeats it.
  function renderReach(t) {
    var tb = reachTableAt(t);
    document.getElementById("reach-span").textContent = tr("reachSpan", { a: instant(tb.from), b: instant(tb.until) });
    var el = document.getElementById("reach");
    if (!tb.rows.length) { el.innerHTML = "<p>" + esc(tr("reachNoPods")) + "</p>"; return; }
    var byPort = {}, ports = [];
    tb.rows.forEach(function (r) {
      var key = r[2] + "/" + r[3];
      if (!byPort[key]) { byPort[key] = { port: r[2], cells: {} }; ports.push(key); }
      byPort[key].cells[r[0] + ">" + r[1]] = r;
    });
    ports.sort(function (a, b) { return byPort[a].port - byPort[b].port || (a < b ? -1 : a > b ? 1 : 0); });
    var g = tb.groups;
    var h = "";
    ports.forEach(function (key) {
      var cells = byPort[key].cells;
      var tos = [];
      g.forEach(function (_, j) { for (var i = 0; i < g.length; i++) if (cells[i + ">" + j]) { tos.push(j); return; } });
      h += '<table class="reach" data-port="' + esc(key) + '"><caption>' + esc(tr("reachCaption", { p: key })) + "</caption><thead><tr><th>" + esc(tr("reachFromTo")) + "</th>";
      tos.forEach(function (j) { h += '<th scope="col">' + esc(g[j]) + "</th>"; });
      h += "</tr></thead><tbody>";
      g.forEach(function (from, i) {
        h += '<tr><th scope="row">' + esc(from) + "</th>";
        tos.forEach(function (j) {
          var r = cells[i + ">" + j];
          if (!r) { h += '<td class="none" data-from="' + esc(from) + '" data-to="' + esc(g[j]) + '">–</td>'; return; }
          var ok = r[4] && r[5];
          var word = ok ? tr("allow") : !r[4] && !r[5] ? tr("denyBoth") : !r[4] ? tr("denyIn") : tr("denyOut");
          h += '<td class="' + (ok ? "allow" : "deny") + '" data-from="' + esc(from) + '" data-to="' + esc(g[j]) + '" data-verdict="' + (ok ? "allow" : "deny") +
            '" data-ingress="' + (r[4] ? "allow" : "deny") + '" data-egress="' + (r[5] ? "allow" : "deny") + '">' + (ok ? "✓ " : "✗ ") + esc(word) + "</td>";
        });
        h += "</tr>";
      });
      h += "</tbody></table>";
    });
    if (tb.groupsLeftOut) h += "<p>" + esc(tr("reachGroupsCut", { m: tb.groupsLeftOut, n: D.reach.maxGroups })) + "</p>";
    el.innerHTML = h;
  }

  // ---- the page ----

  function renderStatic() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = tr(el.getAttribute("data-i18n")); });
    document.getElementById("play").textContent = state.playing ? tr("pause") : tr("play");
    document.getElementById("lang-en").className = state.lang === "en" ? "on" : "";
    document.getElementById("lang-zh").className = state.lang === "zh" ? "on" : "";
    document.getElementById("scenario").textContent = D.scenario;
    document.getElementById("meta").textContent = tr("seed") + " " + D.seed + " · " + tr("simulated") + " " + instant(D.end) + " · " + tr("mode") + " " + D.proxy + " · " +
      tr("requestsSummary", { sent: num(D.totals.sent), served: num(D.totals.served), failed: num(D.totals.failed) });
    var lo = D.leftOut;
    var about = [tr("aboutSampling", { r: D.resolution }), tr("aboutPods", { n: D.pods.length, m: lo.pods }), tr("aboutNodes", { n: D.nodes.length, m: lo.nodes }),
      tr("aboutServices", { n: D.services.length, m: lo.services }), tr("aboutEvents", { n: D.events.length, m: lo.events }),
      tr("aboutSeries", { n: D.requests.series.length, m: D.requests.seriesLeftOut, b: D.requests.bucket }),
      tr("aboutSyncs", { n: 24, p: lo.ports, s: lo.syncs }), tr("aboutTraces", { n: 8 }),
      tr("aboutRules", { n: num(D.bounds.rulesLines), c: D.bounds.rulesContext, m: num(D.bounds.rulesTotal), k: lo.rules }),
      tr("aboutSlices", { n: D.bounds.sliceServices, m: lo.slices }),
      tr("aboutLatency", { n: D.latency.length, m: lo.streams, p: D.bounds.cdfPoints }), tr("aboutLoad"),
      tr("aboutKubectl"), tr("aboutLink")];
    if (D.reach) about.push(tr("aboutReach", { n: D.reach.maxTables, m: D.reach.leftOut, g: D.reach.maxGroups }));
    document.getElementById("about").innerHTML = about.map(function (a) { return "<li>" + esc(a) + "</li>"; }).join("");
    var pick = document.getElementById("svc-pick");
    pick.innerHTML = D.services.map(function (s) { return '<option value="' + esc(svcKey(s)) + '">' + esc(svcKey(s) + " " + s.clusterIP) + "</option>"; }).join("");
    if (state.svc) pick.value = state.svc;
    renderTracePick();
  }

  function render() {
    var t = state.t;
    var all = namespaced();
    document.getElementById("pods-cmd").textContent = "kubectl get pods" + (all ? " -A" : "") + " -o wide";
    document.getElementById("svc-cmd").textContent = "kubectl get svc" + (all ? " -A" : "");
    document.getElementById("events-cmd").textContent = "kubectl get events" + (all ? " -A" : "");
    document.getElementById("slices-cmd").textContent = "kubectl get endpointslices" + (all ? " -A" : "");
    document.getElementById("slider").value = String(t);
    document.getElementById("time").textContent = "t = " + instant(t);
    document.querySelectorAll("h2 .at").forEach(function (el) { el.textContent = "@ t = " + instant(t); });
    renderNetworks(t);
    renderPods(t);
    renderSvc(t);
    renderEndpoints(t);
    renderEvents(t);
    renderSlices(t);
    renderRequests(t);
    renderLatency();
    renderLoad(t);
    renderTrace(t);
    if (D.reach) renderReach(t);
    renderDetails(t);
  }

  function writeHash() {
    var parts = ["t=" + (Math.round(state.t * 1000) / 1000), "lang=" + state.lang];
    if (state.pod) parts.push("pod=" + encodeURIComponent(state.pod));
    if (state.svc) parts.push("svc=" + encodeURIComponent(state.svc));
    try { history.replaceState(null, "", "#" + parts.join("&")); } catch (e) { /* some file:// viewers refuse */ }
  }

  function readHash() {
    var h = location.hash.replace(/^#/, "");
    var q = {};
    h.split("&").forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf("=");
      var k = i < 0 ? kv : kv.slice(0, i), v = i < 0 ? "" : kv.slice(i + 1);
      try { q[k] = decodeURIComponent(v.replace(/\+/g, " ")); } catch (e) { q[k] = v; }
    });
    if (q.t != null && q.t !== "" && !isNaN(Number(q.t))) state.t = Math.max(0, Math.min(D.end, Number(q.t)));
    if (q.lang === "zh" || q.lang === "en") state.lang = q.lang;
    if (q.pod) { state.pod = q.pod; detail = { kind: "pod", name: q.pod }; }
    if (q.svc) {
      var key = q.svc.indexOf("/") < 0 ? "default/" + q.svc : q.svc;
      D.services.forEach(function (s) { if (svcKey(s) === key || s.name === q.svc) state.svc = svcKey(s); });
    }
  }

  function defaultService() {
    // The first Service a traffic stream served, else the first with a selector outside kube-system.
    var best = null;
    D.services.forEach(function (s) { if (!best && s.served > 0) best = s; });
    D.services.forEach(function (s) { if (!best && s.selector && s.ns !== "kube-system") best = s; });
    return best ? svcKey(best) : D.services.length ? svcKey(D.services[0]) : null;
  }

  function setT(t) {
    state.t = Math.max(0, Math.min(D.end, t));
    if (!state.playing) state.trace = -1;
    render();
    writeHash();
  }

  var last = null;
  function tick(now) {
    if (!state.playing) return;
    if (last != null) {
      var t = state.t + (now - last) / 1000 * state.speed;
      if (t >= D.end) { t = D.end; state.playing = false; renderStatic(); }
      state.t = t;
      render();
    }
    last = now;
    if (state.playing) requestAnimationFrame(tick);
    else writeHash();
  }

  function eventTimes() {
    var ts = D.events.map(function (e) { return e[0]; }).concat(D.markers.map(function (m) { return m[0]; }));
    ts.sort(function (a, b) { return a - b; });
    return ts;
  }

  function wire() {
    var slider = document.getElementById("slider");
    slider.max = String(D.end);
    slider.addEventListener("input", function () { setT(Number(slider.value)); });
    document.getElementById("play").addEventListener("click", function () {
      state.playing = !state.playing;
      if (state.playing && state.t >= D.end) state.t = 0;
      last = null;
      renderStatic();
      if (state.playing) requestAnimationFrame(tick);
      else writeHash();
    });
    document.getElementById("speed").addEventListener("change", function (e) { state.speed = Number(e.target.value); });
    document.getElementById("prev-event").addEventListener("click", function () {
      var ts = eventTimes().filter(function (x) { return x < state.t - 1e-6; });
      if (ts.length) setT(ts[ts.length - 1]);
    });
    document.getElementById("next-event").addEventListener("click", function () {
      var ts = eventTimes().filter(function (x) { return x > state.t + 1e-6; });
      if (ts.length) setT(ts[0]);
    });
    document.querySelectorAll(".lang button").forEach(function (b) {
      b.addEventListener("click", function () { state.lang = b.getAttribute("data-lang"); renderStatic(); render(); writeHash(); });
    });
    document.getElementById("svc-pick").addEventListener("change", function (e) {
      state.svc = e.target.value; detail = { kind: "svc", name: state.svc }; render(); writeHash();
    });
    document.getElementById("trace-pick").addEventListener("change", function (e) {
      state.trace = Number(e.target.value); state.hop = -1; render();
    });
    document.getElementById("trace-steps").addEventListener("click", function (e) {
      var b = e.target.closest("button");
      if (!b) return;
      if (state.trace < 0) state.trace = traceIndexAt(state.t);
      state.hop = Number(b.getAttribute("data-hop"));
      renderTrace(state.t);
    });
    document.body.addEventListener("click", function (e) {
      var el = e.target.closest("[data-pod],[data-node],[data-svc]");
      if (!el || el.closest("#legend") && !el.getAttribute("data-pod")) return;
      if (el.closest("#trace-steps")) return;
      if (el.hasAttribute("data-pod")) { state.pod = el.getAttribute("data-pod"); detail = { kind: "pod", name: state.pod }; }
      else if (el.hasAttribute("data-node")) detail = { kind: "node", name: el.getAttribute("data-node") };
      else { state.svc = el.getAttribute("data-svc"); detail = { kind: "svc", name: state.svc }; document.getElementById("svc-pick").value = state.svc; }
      render();
      writeHash();
    });
    window.addEventListener("hashchange", function () { readHash(); renderStatic(); render(); });
  }

  try {
    state.svc = defaultService();
    readHash();
    wire();
    renderStatic();
    render();
    document.body.setAttribute("data-ready", "1");
  } catch (e) {
    reportError("error: " + (e && e.stack ? e.stack : e));
  }
})();
