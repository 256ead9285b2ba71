package mediasvc

import (
	"bufio"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// uploadForm is what an upload body says besides the file itself.
type uploadForm struct {
	contentType     string // the content-type field
	partContentType string // the data part's own Content-Type
	fileName        string
	partFileName    string // filename= of the data part's Content-Disposition
	title           string
	description     string
	haveData        bool
}

// Bounds on everything in an upload body a client controls.
const (
	maxFormParts  = 64
	maxFieldName  = 256
	maxFieldValue = maxTextField
)

// storeFunc consumes the file's bytes as they arrive.
type storeFunc func(data io.Reader) error

// readUploadBody walks a multipart or urlencoded upload body, handing the
// `data` field's decoded bytes to store as they stream in; the body is
// never held in memory. maxData bounds the file (a declared content-length
// field over it is refused before the file is read).
func readUploadBody(r *http.Request, maxData int64, store storeFunc) (uploadForm, error) {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return uploadForm{}, errorf(unsupportedType, "send multipart/form-data or application/x-www-form-urlencoded")
	}
	switch mediaType {
	case "multipart/form-data":
		return readMultipart(r, maxData, store)
	case "application/x-www-form-urlencoded":
		return readURLEncoded(r.Body, maxData, store)
	}
	return uploadForm{}, errorf(unsupportedType, "send multipart/form-data or application/x-www-form-urlencoded")
}

// setField records a non-file field; names are matched case-insensitively.
func (f *uploadForm) setField(name, value string, maxData int64) error {
	var err error
	switch name {
	case "content-type":
		f.contentType = strings.TrimSpace(value)
	case "filename":
		f.fileName, err = cleanFileName(value)
	case "title":
		f.title, err = cleanText("title", value)
	case "description":
		f.description, err = cleanText("description", value)
	case "content-length":
		n, perr := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if perr != nil || n < 0 {
			return errorf(invalidRequest, "content-length is not a size")
		}
		if n > maxData && !f.haveData {
			return errorf(tooLarge, "upload too large")
		}
	}
	return err
}

func readMultipart(r *http.Request, maxData int64, store storeFunc) (uploadForm, error) {
	var f uploadForm
	budget := &framingBudget{r: r.Body}
	r.Body = struct {
		io.Reader
		io.Closer
	}{budget, r.Body}
	mr, err := r.MultipartReader()
	if err != nil {
		return f, errorf(invalidRequest, "malformed multipart body")
	}
	for parts := 0; ; parts++ {
		if parts == maxFormParts {
			return f, errorf(invalidRequest, "too many form parts")
		}
		part, err := mr.NextPart()
		if err == io.EOF {
			return f, nil
		}
		if err != nil {
			return f, bodyError(err, "malformed multipart body")
		}
		name := strings.ToLower(part.FormName())
		if name == "data" {
			if f.haveData {
				return f, errorf(invalidRequest, "more than one data field")
			}
			f.haveData = true
			f.partContentType = part.Header.Get("Content-Type")
			if f.partFileName, err = cleanFileName(part.FileName()); err != nil {
				return f, err
			}
			src := &readErrRecorder{r: &fileCounter{r: part, n: &budget.file}}
			if err := store(src); err != nil {
				return f, src.explain(err)
			}
			continue
		}
		if len(name) > maxFieldName {
			return f, errorf(invalidRequest, "form field name too long")
		}
		value, err := io.ReadAll(io.LimitReader(part, maxFieldValue+1))
		if err != nil {
			return f, bodyError(err, "malformed multipart body")
		}
		if len(value) > maxFieldValue {
			return f, errorf(invalidRequest, "form field "+name+" too long")
		}
		if err := f.setField(name, string(value), maxData); err != nil {
			return f, err
		}
	}
}

func readURLEncoded(body io.Reader, maxData int64, store storeFunc) (uploadForm, error) {
	var f uploadForm
	sc := &formScanner{br: bufio.NewReaderSize(body, 64<<10)}
	for parts := 0; ; parts++ {
		if parts == maxFormParts {
			return f, errorf(invalidRequest, "too many form fields")
		}
		name, err := sc.nextName()
		if err == io.EOF {
			return f, nil
		}
		if err != nil {
			return f, err
		}
		name = strings.ToLower(name)
		value := sc.value()
		if name == "data" {
			if f.haveData {
				return f, errorf(invalidRequest, "more than one data field")
			}
			f.haveData = true
			src := &readErrRecorder{r: base64.NewDecoder(base64.RawStdEncoding, &base64Normalizer{r: value})}
			if err := store(src); err != nil {
				return f, src.explain(err)
			}
			// The store must have consumed everything; anything left is
			// not base64.
			if n, _ := io.Copy(io.Discard, value); n > 0 {
				return f, errorf(invalidRequest, "data is not valid base64")
			}
			continue
		}
		v, err := io.ReadAll(io.LimitReader(value, maxFieldValue+1))
		if err != nil {
			return f, err
		}
		if len(v) > maxFieldValue {
			return f, errorf(invalidRequest, "form field "+name+" too long")
		}
		if err := f.setField(name, string(v), maxData); err != nil {
			return f, err
		}
	}
}

// framingBudget bounds the bytes of a multipart body that are not the
// file's: boundaries, part headers and fields. mime/multipart holds a
// part's headers in memory, up to 10 MiB each, so without this bound every
// upload slot could hold some 30 MB of heap for one crafted header.
type framingBudget struct {
	r    io.Reader
	read int64 // bytes read from the body
	file int64 // of which the data part delivered this many as the file
}

// maxFraming leaves room for 64 fields of 8 KiB with their headers, and
// for what the multipart reader buffers ahead of the file.
const maxFraming = bodyOverhead

func (b *framingBudget) Read(p []byte) (int, error) {
	if b.read-b.file > maxFraming {
		return 0, errorf(tooLarge, "form fields and part headers too large")
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

// fileCounter counts the file's bytes for the framing budget.
type fileCounter struct {
	r io.Reader
	n *int64
}

func (c *fileCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// bodyError turns an error reading the request body into the client's
// fault: too large, or malformed/cut short.
func bodyError(err error, msg string) error {
	var mbe *http.MaxBytesError
	var he *requestError
	if errors.As(err, &mbe) {
		return err
	}
	if errors.As(err, &he) {
		return he
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errorf(invalidRequest, "request body cut short")
	}
	return errorf(invalidRequest, msg)
}

// readErrRecorder remembers the error its source gave, so that when a
// store fails we can tell the client's fault (bad base64, a body cut short,
// too large) from the store's.
type readErrRecorder struct {
	r   io.Reader
	err error
}

func (e *readErrRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

func (e *readErrRecorder) explain(storeErr error) error {
	if e.err == nil {
		return storeErr
	}
	var corrupt base64.CorruptInputError
	var mbe *http.MaxBytesError
	var he *requestError
	switch {
	case errors.As(e.err, &corrupt):
		return errorf(invalidRequest, "data is not valid base64")
	case errors.As(e.err, &mbe), errors.As(e.err, &he):
		return e.err
	}
	return errorf(invalidRequest, "request body cut short")
}

// base64Normalizer lets one decoder read every alphabet clients send: the
// URL-safe characters become standard ones, padding and line breaks go,
// and a space (an unencoded '+' that form decoding turned into a space)
// becomes '+' again.
type base64Normalizer struct{ r io.Reader }

func (b *base64Normalizer) Read(p []byte) (int, error) {
	for {
		n, err := b.r.Read(p)
		out := 0
		for _, c := range p[:n] {
			switch c {
			case '-', ' ':
				c = '+'
			case '_':
				c = '/'
			case '=', '\r', '\n', '\t':
				continue
			}
			p[out] = c
			out++
		}
		if out > 0 || err != nil {
			return out, err
		}
	}
}

// formScanner reads application/x-www-form-urlencoded pairs from a stream,
// one at a time, so a large field is never buffered.
type formScanner struct {
	br      *bufio.Reader
	pending *formValue // value of the last name, if not yet drained
	done    bool
}

// nextName returns the next field's name (io.EOF at the end). The previous
// value, if unread, is skipped.
func (s *formScanner) nextName() (string, error) {
	if s.pending != nil {
		if _, err := io.Copy(io.Discard, s.pending); err != nil {
			return "", err
		}
		s.pending = nil
	}
	for !s.done {
		var name []byte
		for {
			c, err := s.br.ReadByte()
			if err == io.EOF {
				s.done = true
				break
			}
			if err != nil {
				return "", bodyError(err, "malformed form body")
			}
			if c == '=' {
				break
			}
			if c == '&' {
				name = append(name, '&') // a name without a value
				break
			}
			if len(name) >= 3*maxFieldName {
				return "", errorf(invalidRequest, "form field name too long")
			}
			name = append(name, c)
		}
		noValue := len(name) > 0 && name[len(name)-1] == '&'
		if noValue {
			name = name[:len(name)-1]
		}
		if len(name) == 0 {
			continue
		}
		decoded, err := queryUnescape(string(name))
		if err != nil {
			return "", err
		}
		s.pending = &formValue{s: s, eof: noValue || s.done}
		return decoded, nil
	}
	return "", io.EOF
}

func queryUnescape(s string) (string, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			out = append(out, ' ')
		case '%':
			if i+2 >= len(s) {
				return "", errorf(invalidRequest, "malformed form body")
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", errorf(invalidRequest, "malformed form body")
			}
			out = append(out, hi<<4|lo)
			i += 2
		default:
			out = append(out, c)
		}
	}
	return string(out), nil
}

// value returns a reader of the current field's decoded value.
func (s *formScanner) value() io.Reader { return s.pending }

// formValue decodes one value up to the next '&'.
type formValue struct {
	s   *formScanner
	eof bool
}

func (v *formValue) Read(p []byte) (int, error) {
	if v.eof {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		c, err := v.s.br.ReadByte()
		if err == io.EOF {
			v.s.done, v.eof = true, true
			break
		}
		if err != nil {
			return n, bodyError(err, "malformed form body")
		}
		switch c {
		case '&':
			v.eof = true
			return n, nil
		case '+':
			c = ' '
		case '%':
			h, err1 := v.s.br.ReadByte()
			l, err2 := v.s.br.ReadByte()
			hi, ok1 := unhex(h)
			lo, ok2 := unhex(l)
			if err1 != nil || err2 != nil || !ok1 || !ok2 {
				return n, errorf(invalidRequest, "malformed percent-encoding in form body")
			}
			c = hi<<4 | lo
		}
		p[n] = c
		n++
		if v.s.br.Buffered() == 0 && n > 0 {
			break // do not block for more when we have something
		}
	}
	if v.eof && n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
