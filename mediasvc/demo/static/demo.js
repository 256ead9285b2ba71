/* The demo page of the media server. ES5 only, XMLHttpRequest rather than
   fetch, no framework: it is meant to run on old phone browsers too. */
(function () {
  'use strict';

  // The preview boxes the server makes at upload (previews.sizes), small
  // screens first. srcset offers both and the browser picks by screen.
  var BOXES = [{ w: 240, h: 320 }, { w: 320, h: 480 }];
  // The image's display width: the small box on screens narrower than the
  // large one, else the large box.
  var SIZES = '(max-width: 319px) 240px, 320px';

  function $(id) { return document.getElementById(id); }

  function queryParams() {
    var out = {};
    var q = window.location.search.replace(/^\?/, '');
    if (!q) { return out; }
    var parts = q.split('&');
    for (var i = 0; i < parts.length; i++) {
      var kv = parts[i].split('=');
      var k = decodeURIComponent(kv[0].replace(/\+/g, ' '));
      out[k] = decodeURIComponent((kv.slice(1).join('=') || '').replace(/\+/g, ' '));
    }
    return out;
  }

  function setStatus(state, text) {
    var el = $('status');
    el.setAttribute('data-state', state);
    el.textContent = text;
  }

  // settings are what the channel form holds, trimmed.
  function settings() {
    var api = $('api').value.replace(/^\s+|\s+$/g, '').replace(/\/+$/, '');
    if (!api) {
      // Served by the API server itself at /demo/.
      api = window.location.protocol + '//' + window.location.host;
    }
    return {
      api: api,
      channel: $('channel').value.replace(/^\s+|\s+$/g, ''),
      auth: $('auth').value.replace(/^\s+|\s+$/g, '')
    };
  }

  // url builds an API URL; the auth value travels in the query so that
  // <img> requests carry it too.
  function url(s, path, query) {
    var q = query || [];
    if (s.auth) { q = q.concat(['auth=' + encodeURIComponent(s.auth)]); }
    var entity = encodeURIComponent(s.channel).replace(/%40/g, '@');
    return s.api + '/' + entity + (path ? '/' + path : '') + (q.length ? '?' + q.join('&') : '');
  }

  // request sends a CORS request with credentials and calls done(err, json).
  function request(method, target, body, done, onProgress) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, target, true);
    xhr.withCredentials = true;
    xhr.setRequestHeader('Accept', 'application/json');
    if (onProgress && xhr.upload) {
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) { onProgress(e.loaded, e.total); }
      };
    }
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) { return; }
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) {
        done(null, data);
        return;
      }
      var msg;
      if (xhr.status === 0) {
        msg = 'network error or the API refused this origin (CORS)';
      } else {
        msg = xhr.status + ' ' + ((data && data.error) || xhr.statusText);
      }
      done(new Error(msg), data);
    };
    xhr.send(body || null);
  }

  // fit mirrors the server: inside the box, aspect kept, never enlarged.
  function fit(w, h, box) {
    if (w <= box.w && h <= box.h) { return { w: w, h: h }; }
    var s = Math.min(box.w / w, box.h / h);
    return {
      w: Math.min(box.w, Math.max(1, Math.round(w * s))),
      h: Math.min(box.h, Math.max(1, Math.round(h * s)))
    };
  }

  function isImage(m) {
    return /^image\//.test(m.mimeType || '') && m.width > 0 && m.height > 0;
  }

  function previewImage(s, m) {
    var img = document.createElement('img');
    var srcset = [];
    var seen = {};
    var large = null;
    for (var i = 0; i < BOXES.length; i++) {
      var b = BOXES[i];
      var size = fit(m.width, m.height, b);
      var src = url(s, m.id, ['maxwidth=' + b.w, 'maxheight=' + b.h]);
      if (i === 0) { img.src = src; } // for browsers without srcset
      if (!seen[size.w]) { // one candidate per width: duplicates are invalid
        seen[size.w] = true;
        srcset.push(src + ' ' + size.w + 'w');
      }
      large = size;
    }
    img.setAttribute('srcset', srcset.join(', '));
    img.setAttribute('sizes', SIZES);
    img.setAttribute('loading', 'lazy');
    // The size of the largest preview, so the page keeps its layout while
    // images arrive; CSS scales it down on small screens.
    img.width = large.w;
    img.height = large.h;
    img.alt = m.title || m.fileName || m.id;
    img.setAttribute('data-media-id', m.id);
    return img;
  }

  function render(s, items) {
    var list = $('media');
    while (list.firstChild) { list.removeChild(list.firstChild); }
    for (var i = 0; i < items.length; i++) {
      var m = items[i];
      var li = document.createElement('li');
      var fig = document.createElement('figure');
      var link = document.createElement('a');
      link.href = url(s, m.id);
      if (isImage(m)) {
        link.appendChild(previewImage(s, m));
      } else {
        link.textContent = m.fileName || m.id;
      }
      fig.appendChild(link);
      var cap = document.createElement('figcaption');
      cap.textContent = (m.title || m.fileName || m.id) + (isImage(m) ? ' (' + m.width + 'x' + m.height + ')' : '');
      fig.appendChild(cap);
      li.appendChild(fig);
      list.appendChild(li);
    }
  }

  function load(after) {
    var s = settings();
    if (!s.channel) {
      setStatus('idle', 'Enter a channel JID.');
      return;
    }
    setStatus('loading', 'Loading ' + s.channel + '...');
    request('GET', url(s, '', ['max=50']), null, function (err, items) {
      if (err) {
        setStatus('error', 'Could not list ' + s.channel + ': ' + err.message);
        return;
      }
      render(s, items || []);
      setStatus('ready', (after ? after + ' ' : '') + (items || []).length + ' item(s) in ' + s.channel + '.');
    });
  }

  function upload(e) {
    e.preventDefault();
    var s = settings();
    var input = $('data');
    var file = input.files && input.files[0];
    if (!s.channel) { setStatus('error', 'Enter a channel JID first.'); return; }
    if (!file) { setStatus('error', 'Choose a file first.'); return; }
    if (!window.FormData) { setStatus('error', 'This browser cannot upload files from a page.'); return; }
    // The text fields go before the file, so the server knows the type
    // and name before the file's bytes stream in.
    var form = new FormData();
    form.append('content-type', file.type || 'application/octet-stream');
    form.append('filename', file.name);
    form.append('title', $('title').value);
    form.append('data', file, file.name);
    var bar = $('progress');
    bar.hidden = false;
    bar.value = 0;
    setStatus('uploading', 'Uploading ' + file.name + '...');
    request('POST', url(s, ''), form, function (err, item) {
      bar.hidden = true;
      if (err) {
        setStatus('error', 'Upload failed: ' + err.message);
        return;
      }
      $('upload').reset();
      load('Uploaded ' + ((item && (item.fileName || item.id)) || file.name) + '.');
    }, function (sent, total) {
      bar.value = Math.round(sent * 100 / total);
    });
  }

  var p = queryParams();
  $('api').value = p.api || '';
  $('channel').value = p.channel || '';
  $('auth').value = p.auth || '';
  $('upload').addEventListener('submit', upload, false);
  load();
})();
