// Uploads a backup archive with progress: the request body is the file itself (the server streams
// it to disk). A form with data-upload="<url>" gets it; on success the browser goes to
// data-done + the stored file's name (+ data-done-after), or (data-then="submit") the stored name goes into the
// form's hidden input name="uploaded" and the form is submitted as usual. With data-send-name the
// file's name goes along as ?name=…; data-empty and data-checking give the form's own words.
// Errors are shown beside the file field. Without JavaScript the form stays hidden and the page
// says what to do instead.
(function () {
  'use strict';
  // A refusal in words: each field's message as a sentence ("The file must be a PDF…"), else
  // the problem's detail.
  var SUBJECTS = { file: 'The file', name: "The file's name", title: 'The name', tags: 'Tags', note: 'The note' };
  function refusal(body) {
    if (body.errors && body.errors.length) {
      return body.errors.map(function (e) {
        var m = String(e.message || '').replace(/\.$/, '');
        if (/^(is|must|has|cannot|may|should) /.test(m)) return (SUBJECTS[e.field] || 'The file') + ' ' + m + '.';
        return m.charAt(0).toUpperCase() + m.slice(1) + '.';
      }).join(' ');
    }
    return body.detail;
  }

  function setUp(form) {
    var input = form.querySelector('input[type=file]');
    var error = document.getElementById(input.getAttribute('aria-describedby'));
    var bar = form.querySelector('progress');
    var status = form.querySelector('[role=status]');
    var button = form.querySelector('button[type=submit]');
    var uploaded = form.querySelector('input[name=uploaded]');
    form.hidden = false;
    form.querySelectorAll('[data-js-only]').forEach(function (el) { el.hidden = false; });

    function fail(message) {
      error.textContent = message;
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      bar.hidden = true;
      status.textContent = '';
      button.disabled = false;
      input.focus();
    }

    form.addEventListener('submit', function (event) {
      var file = input.files && input.files[0];
      if (!file) {
        // The wizard's form may restore a backup already in the folder instead.
        if (form.dataset.then === 'submit' && form.querySelector('input[name=file]:checked')) {
          return;
        }
        event.preventDefault();
        fail(form.dataset.empty || 'Choose a backup file first.');
        return;
      }
      event.preventDefault();
      error.hidden = true;
      input.removeAttribute('aria-invalid');
      button.disabled = true;
      bar.hidden = false;
      bar.max = file.size || 1;
      bar.value = 0;
      status.textContent = 'Uploading ' + file.name + '…';
      var lastTenth = -1;
      var xhr = new XMLHttpRequest();
      var url = form.dataset.upload;
      if (form.dataset.sendName !== undefined) {
        url += (url.indexOf('?') < 0 ? '?' : '&') + 'name=' + encodeURIComponent(file.name);
      }
      xhr.open('POST', url);
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
      xhr.upload.addEventListener('progress', function (e) {
        if (!e.lengthComputable) { return; }
        bar.max = e.total;
        bar.value = e.loaded;
        // Said every 10 %, so a screen reader is not flooded.
        var tenth = Math.floor((10 * e.loaded) / e.total);
        if (tenth !== lastTenth) {
          lastTenth = tenth;
          status.textContent = 'Uploading ' + file.name + ': ' + tenth * 10 + ' %';
        }
      });
      xhr.upload.addEventListener('load', function () {
        status.textContent = form.dataset.checking || 'Uploaded; checking the backup…';
      });
      xhr.addEventListener('load', function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (ignored) { body = {}; }
        var stored = body.file || body.id;
        if (xhr.status === 201 && stored) {
          if (form.dataset.then === 'submit' && uploaded) {
            uploaded.value = stored;
            status.textContent = 'Uploaded and checked; starting the restore…';
            form.submit();
          } else {
            window.location.assign(form.dataset.done + encodeURIComponent(stored) + (form.dataset.doneAfter || ''));
          }
          return;
        }
        fail(refusal(body) || ('The upload was refused (' + xhr.status + ').'));
      });
      xhr.addEventListener('error', function () {
        fail('The upload was cut off. Check the connection to the server and try again.');
      });
      xhr.send(file);
    });
  }
  document.querySelectorAll('form[data-upload]').forEach(setUp);
})();
