// The dashboard's only script of its own (the CSP allows no inline script): live updates
// over server-sent events, the throughput chart, and error messages from actions.
(function () {
  'use strict';
  var body = document.body;
  var status = document.getElementById('live-status');
  var flash = document.getElementById('flash');

  function setStatus(text, className) {
    if (!status) return;
    status.textContent = text;
    status.className = 'live-status ' + className;
  }

  // One stream per page. The server coalesces changes; htmx then fetches `#live` again.
  var eventsUrl = body.getAttribute('data-events');
  if (eventsUrl && window.EventSource) {
    var source = new EventSource(eventsUrl);
    source.addEventListener('hello', function () { setStatus('live', 'on'); });
    source.addEventListener('heartbeat', function () { setStatus('live', 'on'); });
    source.addEventListener('change', function () {
      setStatus('live', 'on');
      if (window.htmx) window.htmx.trigger(body, 'jobsmith-change');
    });
    source.onerror = function () { setStatus('reconnecting…', 'off'); };
    window.addEventListener('pagehide', function () { source.close(); });
  }

  var chart = null;
  function drawChart() {
    var element = document.getElementById('throughput-chart');
    if (!element || !window.uPlot) return;
    var series = JSON.parse(element.getAttribute('data-series') || '{"at":[],"completed":[],"failed":[]}');
    if (chart) chart.destroy();
    element.textContent = '';
    chart = new window.uPlot({
      width: Math.max(320, element.clientWidth || 800),
      height: 220,
      scales: { x: { time: true } },
      axes: [{}, { label: 'jobs / min' }],
      series: [
        {},
        { label: 'completed', stroke: '#2f855a', fill: 'rgba(47,133,90,0.12)', width: 2 },
        { label: 'failed', stroke: '#c53030', fill: 'rgba(197,48,48,0.12)', width: 2 },
      ],
    }, [series.at, series.completed, series.failed], element);
  }

  function showProblem(text) {
    if (!flash) return;
    flash.textContent = text;
    flash.hidden = false;
    setTimeout(function () { flash.hidden = true; }, 8000);
  }

  document.addEventListener('htmx:responseError', function (event) {
    var xhr = event.detail.xhr;
    var message = 'The request failed (' + xhr.status + ').';
    try { message = JSON.parse(xhr.responseText).error.message; } catch (ignored) { /* not JSON */ }
    showProblem(message);
  });
  document.addEventListener('htmx:sendError', function () { showProblem('The dashboard could not be reached.'); });
  document.addEventListener('htmx:afterSettle', drawChart);
  window.addEventListener('load', drawChart);
})();
