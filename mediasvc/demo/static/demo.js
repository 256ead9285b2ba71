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
  // The tiny preview (LQIP) shown blurred between the placeholder and the
  // preview: a box below the stored set, so the server derives it from the
  // stored 240x320 preview and keeps it in its bounded derived cache
  // (docs/previews.md, The slow network). Nothing in the item's JSON names
  // it: any page may pick its own box.
  var LQIP = { w: 32, h: 32 };

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

  // thumbHashPixels draws a ThumbHash (the item's placeholder, base64) as
  // RGBA pixels at most 32 on the long side, following the format's
  // published decoding steps (https://evanw.github.io/thumbhash/): the
  // average colour plus a few cosine terms of luminance, two colour
  // differences and alpha, each a 4-bit step. Returns null for a value
  // that is not a ThumbHash.
  function thumbHashPixels(b64) {
    var bin;
    try { bin = window.atob(b64); } catch (e) { return null; }
    var hash = [];
    for (var i = 0; i < bin.length; i++) { hash.push(bin.charCodeAt(i)); }
    if (hash.length < 5) { return null; }
    var h24 = hash[0] | (hash[1] << 8) | (hash[2] << 16);
    var h16 = hash[3] | (hash[4] << 8);
    var lDC = (h24 & 63) / 63;
    var pDC = ((h24 >> 6) & 63) / 31.5 - 1;
    var qDC = ((h24 >> 12) & 63) / 31.5 - 1;
    var lScale = ((h24 >> 18) & 31) / 31;
    var hasAlpha = (h24 >> 23) !== 0;
    var pScale = ((h16 >> 3) & 63) / 63;
    var qScale = ((h16 >> 9) & 63) / 63;
    var landscape = (h16 >> 15) !== 0;
    var limit = hasAlpha ? 5 : 7;
    var lx = landscape ? limit : h16 & 7;
    var ly = landscape ? h16 & 7 : limit;
    if (lx === 0 || ly === 0) { return null; }
    var ratio = lx / ly;
    lx = Math.max(3, lx);
    ly = Math.max(3, ly);
    var start = hasAlpha ? 6 : 5;
    if (hash.length < start) { return null; }
    var aDC = hasAlpha ? (hash[5] & 15) / 15 : 1;
    var aScale = hasAlpha ? (hash[5] >> 4) / 15 : 0;
    var idx = 0;
    var truncated = false;
    // terms reads the next channel's cosine terms, in the format's
    // order: row by row, the triangle cx*ny < nx*(ny-cy) without (0,0).
    function terms(nx, ny, scale) {
      var ac = [];
      for (var cy = 0; cy < ny; cy++) {
        for (var cx = cy ? 0 : 1; cx * ny < nx * (ny - cy); cx++) {
          var k = start + (idx >> 1);
          if (k >= hash.length) { truncated = true; return ac; }
          ac.push((((hash[k] >> ((idx & 1) * 4)) & 15) / 7.5 - 1) * scale);
          idx++;
        }
      }
      return ac;
    }
    var lAC = terms(lx, ly, lScale);
    var pAC = terms(3, 3, pScale * 1.25);
    var qAC = terms(3, 3, qScale * 1.25);
    var aAC = hasAlpha ? terms(5, 5, aScale) : [];
    if (truncated) { return null; }
    var w = Math.round(ratio > 1 ? 32 : 32 * ratio);
    var h = Math.round(ratio > 1 ? 32 / ratio : 32);
    var px = [];
    // sum adds a channel's terms at one pixel; fx, fy are the cosines.
    function sum(ac, nx, ny, fx, fy) {
      var v = 0;
      var j = 0;
      for (var cy = 0; cy < ny; cy++) {
        for (var cx = cy ? 0 : 1; cx * ny < nx * (ny - cy); cx++) {
          v += ac[j++] * fx[cx] * fy[cy] * 2;
        }
      }
      return v;
    }
    function cosines(n, size, at) {
      var out = [];
      for (var c = 0; c < n; c++) { out.push(Math.cos(Math.PI / size * c * (at + 0.5))); }
      return out;
    }
    var nx = Math.max(lx, 5);
    var ny = Math.max(ly, 5);
    for (var y = 0; y < h; y++) {
      var fy = cosines(ny, h, y);
      for (var x = 0; x < w; x++) {
        var fx = cosines(nx, w, x);
        var l = lDC + sum(lAC, lx, ly, fx, fy);
        var p = pDC + sum(pAC, 3, 3, fx, fy);
        var q = qDC + sum(qAC, 3, 3, fx, fy);
        var a = hasAlpha ? aDC + sum(aAC, 5, 5, fx, fy) : 1;
        var bl = l - 2 / 3 * p;
        var r = (3 * l - bl + q) / 2;
        px.push(r, r - q, bl, a);
      }
    }
    return { w: w, h: h, rgba: px };
  }

  // placeholderURL draws an item's placeholder as a PNG data URL, or ''
  // when the item has none or the browser cannot draw it.
  function placeholderURL(b64) {
    if (!b64) { return ''; }
    var t = thumbHashPixels(b64);
    var canvas = document.createElement('canvas');
    if (!t || !canvas.getContext) { return ''; }
    canvas.width = t.w;
    canvas.height = t.h;
    var ctx = canvas.getContext('2d');
    var data = ctx.createImageData(t.w, t.h);
    for (var i = 0; i < t.rgba.length; i++) {
      data.data[i] = Math.max(0, Math.min(255, Math.round(255 * t.rgba[i])));
    }
    ctx.putImageData(data, 0, 0);
    try { return canvas.toDataURL('image/png'); } catch (e) { return ''; }
  }

  // showCost writes what the preview cost once it has loaded: its bytes,
  // as the browser's resource timing saw them. Across origins the browser
  // hides sizes (no Timing-Allow-Origin), and the page says so.
  function showCost(img, cost) {
    var entries = window.performance && performance.getEntriesByName ? performance.getEntriesByName(img.currentSrc || img.src) : [];
    var e = entries.length ? entries[entries.length - 1] : null;
    var bytes = e ? (e.encodedBodySize || e.transferSize || 0) : 0;
    var shown = img.naturalWidth + 'x' + img.naturalHeight + ' preview';
    if (bytes > 0) {
      img.setAttribute('data-bytes', String(bytes));
      cost.textContent = shown + ', ' + bytes + ' bytes';
    } else {
      cost.textContent = shown + ' (the browser hides its size across origins)';
    }
  }

  // previewImage is the preview: srcset of the stored boxes, lazy, its
  // layout box that of the largest preview before any byte arrives.
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
    img.className = 'preview';
    img.setAttribute('data-media-id', m.id);
    return img;
  }

  // previewFrame stacks what the page shows of an image while it loads,
  // from the bottom: the placeholder (the item's ThumbHash, drawn at once)
  // as the frame's background, the tiny preview blurred over it as soon
  // as it arrives, and the preview on top, transparent until its pixels
  // come in (a baseline JPEG paints top down as its bytes arrive, over
  // the tiny one). Every layer loads lazily; the tiny preview comes first
  // in the document so the browser asks for it first.
  function previewFrame(s, m, img) {
    var frame = document.createElement('span');
    frame.className = 'frame';
    var ph = placeholderURL(m.placeholder);
    if (ph) {
      frame.style.backgroundImage = 'url("' + ph + '")';
      frame.className = 'frame placeholder';
      img.setAttribute('data-placeholder', ph);
      img.setAttribute('data-thumbhash', m.placeholder);
    }
    var tiny = document.createElement('img');
    tiny.className = 'lqip';
    tiny.alt = '';
    tiny.setAttribute('aria-hidden', 'true');
    tiny.setAttribute('loading', 'lazy');
    tiny.src = url(s, m.id, ['maxwidth=' + LQIP.w, 'maxheight=' + LQIP.h]);
    img.setAttribute('data-lqip', tiny.src);
    tiny.addEventListener('error', function () {
      if (tiny.parentNode) { tiny.parentNode.removeChild(tiny); }
    }, false);
    frame.appendChild(tiny);
    frame.appendChild(img);
    return frame;
  }

  // watchLoad drops the placeholder and the tiny preview and shows the
  // cost when the preview has loaded (the browser may pick another srcset
  // candidate later, for a wider window: each load is shown).
  function watchLoad(img, cost) {
    img.addEventListener('load', function () {
      var frame = img.parentNode;
      frame.style.backgroundImage = '';
      frame.className = 'frame';
      var tiny = frame.querySelector('img.lqip');
      if (tiny) { frame.removeChild(tiny); }
      showCost(img, cost);
    }, false);
    img.addEventListener('error', function () { cost.textContent = 'preview failed to load'; }, false);
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
      var cost = null;
      if (isImage(m)) {
        var img = previewImage(s, m);
        cost = document.createElement('span');
        cost.className = 'cost';
        cost.textContent = 'loading...';
        watchLoad(img, cost);
        link.appendChild(previewFrame(s, m, img));
      } else {
        link.textContent = m.fileName || m.id;
      }
      fig.appendChild(link);
      var cap = document.createElement('figcaption');
      cap.textContent = (m.title || m.fileName || m.id) + (isImage(m) ? ' (' + m.width + 'x' + m.height + ')' : '');
      if (cost) {
        cap.appendChild(document.createElement('br'));
        cap.appendChild(cost);
      }
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
