// Live values: every element with data-live="key" shows key of /status.json.
(function () {
  var live = document.getElementById('live');
  var fields = document.querySelectorAll('[data-live]');
  if (!fields.length) return;
  function refresh() {
    fetch('/status.json', { cache: 'no-store' })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        fields.forEach(function (el) {
          var k = el.getAttribute('data-live');
          if (k in s) el.textContent = s[k];
        });
        document.body.classList.remove('stale');
        if (live) live.textContent = 'Updated ' + new Date().toLocaleTimeString();
      })
      .catch(function () {
        document.body.classList.add('stale');
        if (live) live.textContent = 'Device not answering';
      });
  }
  refresh();
  setInterval(refresh, 2000);
})();
