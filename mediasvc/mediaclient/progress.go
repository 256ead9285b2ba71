package mediaclient

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Progress shows how much of a file has been sent: a bar redrawn in place
// on a terminal, a plain line every quarter otherwise (logs, CI).
type Progress struct {
	w        io.Writer
	terminal bool
	name     string
	total    int64
	sent     int64
	began    time.Time
	drawn    time.Time
	quarter  int64 // last quarter reported, plain mode
	answered bool  // the server has answered
	now      func() time.Time
}

// NewProgress shows the sending of the file called name on w, as a bar
// when terminal is set.
func NewProgress(w io.Writer, terminal bool, name string) *Progress {
	return &Progress{w: w, terminal: terminal, name: name, now: time.Now}
}

// Start begins a file of total bytes.
func (p *Progress) Start(total int64) {
	p.total, p.sent, p.quarter, p.answered = total, 0, 0, false
	p.began = p.now()
	p.draw(true)
}

// Reader counts what r yields.
func (p *Progress) Reader(r io.Reader) io.Reader { return progressReader{r: r, p: p} }

type progressReader struct {
	r io.Reader
	p *Progress
}

func (pr progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.add(int64(n))
	return n, err
}

func (p *Progress) add(n int64) {
	p.sent += n
	p.draw(false)
}

// Finish draws the final state and ends the line: the server has answered.
func (p *Progress) Finish() {
	// Plain mode has already said 100% if everything was sent, and
	// should not claim it otherwise.
	p.answered = true
	if p.terminal {
		p.draw(true)
		fmt.Fprintln(p.w)
	}
}

func (p *Progress) percent() int64 {
	if p.total <= 0 {
		return 100
	}
	return p.sent * 100 / p.total
}

func (p *Progress) draw(force bool) {
	now := p.now()
	if p.terminal {
		// A redraw costs a write; ten a second look smooth.
		if !force && now.Sub(p.drawn) < 100*time.Millisecond && p.sent < p.total {
			return
		}
		p.drawn = now
		const width = 30
		filled := int(p.percent() * width / 100)
		rate := ""
		if el := now.Sub(p.began).Seconds(); el > 0.2 {
			rate = " " + HumanBytes(int64(float64(p.sent)/el)) + "/s"
		}
		if p.sent >= p.total && !p.answered {
			// Sent; the server stores it and makes previews before 201.
			rate += ", the server is storing it"
		}
		fmt.Fprintf(p.w, "\r%s [%s%s] %3d%% %s of %s%s\033[K", p.name,
			strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.percent(),
			HumanBytes(p.sent), HumanBytes(p.total), rate)
		return
	}
	q := p.percent() / 25
	if force || q > p.quarter {
		p.quarter = q
		fmt.Fprintf(p.w, "%s: %d%% (%s of %s)\n", p.name, q*25, HumanBytes(p.sent), HumanBytes(p.total))
	}
}

// HumanBytes is n in B, KB, MB or GB (powers of 1000, as file managers
// show them).
func HumanBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}
