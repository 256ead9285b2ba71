package jpegscale

import "fmt"

// scanParams is a parsed SOS header.
type scanParams struct {
	comps  []*component
	ss, se uint8 // spectral selection
	ah, al uint8 // successive approximation
}

// scan reads an SOS header and its entropy-coded data (or skips the data
// when the scan cannot change the output), and returns the marker after it.
func (d *Decoder) scan() (byte, error) {
	body, err := d.segmentBody()
	if err != nil {
		return 0, err
	}
	sp, err := d.parseSOS(body)
	if err != nil {
		return 0, err
	}
	if d.progressive && sp.ss > 0 && d.n == 1 {
		// An AC scan: at 1/8 only DC counts, so skip the data unread. (At
		// 1/4 and 1/2 every AC scan is decoded, even bands above maxK: a
		// later refinement scan may span them and needs their history.)
		m, err := d.rd.nextMarker(true)
		return m, d.ioErr(err)
	}
	for _, c := range sp.comps {
		dcScan := !d.progressive || sp.ss == 0
		acScan := !d.progressive || sp.ss > 0
		if dcScan && !(d.progressive && sp.ah > 0) && !d.dc[c.dcTab].defined {
			return 0, FormatError("DC Huffman table not defined")
		}
		if acScan && !d.ac[c.acTab].defined {
			return 0, FormatError("AC Huffman table not defined")
		}
		c.pred = 0
	}
	d.rd.padded = 0
	d.eobrun = 0
	if err := d.decodeScan(sp); err != nil {
		return 0, d.ioErr(err)
	}
	m, err := d.rd.nextMarker(false)
	return m, d.ioErr(err)
}

func (d *Decoder) parseSOS(b []byte) (scanParams, error) {
	var sp scanParams
	if len(b) < 1 {
		return sp, FormatError("short SOS")
	}
	ns := int(b[0])
	if ns < 1 || ns > len(d.comps) || len(b) != 4+2*ns {
		return sp, FormatError("SOS length or component count")
	}
	blocks := 0
	for i := 0; i < ns; i++ {
		id, tabs := b[1+2*i], b[2+2*i]
		var c *component
		for j := range d.comps {
			if d.comps[j].id == id {
				c = &d.comps[j]
			}
		}
		if c == nil {
			return sp, FormatError("SOS names an unknown component")
		}
		for _, o := range sp.comps {
			if o == c {
				return sp, FormatError("SOS repeats a component")
			}
		}
		c.dcTab, c.acTab = tabs>>4, tabs&15
		if c.dcTab > 3 || c.acTab > 3 {
			return sp, FormatError("bad Huffman table selector")
		}
		blocks += c.h * c.v
		sp.comps = append(sp.comps, c)
	}
	if ns > 1 && blocks > 10 {
		return sp, FormatError("too many blocks per MCU")
	}
	p := b[1+2*ns:]
	sp.ss, sp.se, sp.ah, sp.al = p[0], p[1], p[2]>>4, p[2]&15
	if d.progressive {
		if sp.ss > sp.se || sp.se > 63 || (sp.ss == 0 && sp.se != 0) || (sp.ss > 0 && ns != 1) || sp.al > 13 {
			return sp, FormatError("bad progressive scan parameters")
		}
	} else {
		// Sequential scans always cover the whole block; like image/jpeg
		// and libjpeg, ignore whatever the header says.
		sp.ss, sp.se, sp.ah, sp.al = 0, 63, 0, 0
	}
	return sp, nil
}

// decodeScan walks the blocks of a scan in the order of T.81 A.2: MCU by
// MCU for several components, component raster order for one.
func (d *Decoder) decodeScan(sp scanParams) error {
	mcu := 0
	restartsSeen := 0
	next := func() error {
		mcu++
		if d.restart == 0 || mcu%d.restart != 0 {
			return nil
		}
		return d.handleRestart(sp, &restartsSeen)
	}
	if len(sp.comps) == 1 {
		c := sp.comps[0]
		total := c.cw * c.ch
		for by := 0; by < c.ch; by++ {
			for bx := 0; bx < c.cw; bx++ {
				if err := d.block(sp, c, bx, by); err != nil {
					return err
				}
				if by*c.cw+bx+1 < total {
					if err := next(); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	total := d.mcusX * d.mcusY
	for my := 0; my < d.mcusY; my++ {
		for mx := 0; mx < d.mcusX; mx++ {
			for _, c := range sp.comps {
				for y := 0; y < c.v; y++ {
					for x := 0; x < c.h; x++ {
						if err := d.block(sp, c, mx*c.h+x, my*c.v+y); err != nil {
							return err
						}
					}
				}
			}
			if my*d.mcusX+mx+1 < total {
				if err := next(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// handleRestart expects the next RSTn marker and resets the decoder state.
func (d *Decoder) handleRestart(sp scanParams, seen *int) error {
	m, err := d.rd.nextMarker(false)
	if err != nil {
		return err
	}
	if m != mRST0+byte(*seen&7) {
		return FormatError(fmt.Sprintf("expected RST%d, found marker %#x", *seen&7, m))
	}
	*seen++
	for _, c := range sp.comps {
		c.pred = 0
	}
	d.rd.padded = 0
	d.eobrun = 0
	return nil
}

// block decodes one 8x8 block of component c at block position (bx, by).
func (d *Decoder) block(sp scanParams, c *component, bx, by int) error {
	if d.progressive {
		bi := by*c.bw + bx
		if sp.ss > 0 {
			if sp.ah == 0 {
				return d.acFirst(sp, c, bi)
			}
			return d.acRefine(sp, c, bi)
		}
		if sp.ah == 0 { // DC first pass
			t, err := d.rd.decode(&d.dc[c.dcTab])
			if err != nil {
				return err
			}
			diff, err := d.rd.receiveExtend(uint(t))
			if err != nil {
				return err
			}
			c.pred += diff
			c.dcs[bi] = c.pred << sp.al
			return nil
		}
		bit, err := d.rd.bits(1) // DC refinement
		if err != nil {
			return err
		}
		if bit != 0 {
			c.dcs[bi] |= 1 << sp.al
		}
		return nil
	}

	return d.baselineBlock(c, bx, by)
}

// baselineBlock decodes one block of a sequential scan and outputs its
// pixels. It is the hot loop of a derived preview: the bit buffer is kept
// in locals, and a coefficient whose code and magnitude fit in lookBits
// (nearly all of them) costs one table read. Coefficients above maxK are
// skipped by their length alone.
func (d *Decoder) baselineBlock(c *component, bx, by int) error {
	rd := d.rd
	q := &d.quant[c.tq]
	maxK := d.maxK()
	var coef [16]float32 // n x n, row-major by vertical frequency

	if rd.nbits < 32 {
		if err := rd.fill(); err != nil {
			return err
		}
	}
	var diff int32
	if e := d.dc[c.dcTab].lut[rd.acc>>(64-lookBits)]; e.totalLen() != 0 && e.symbol() < 16 {
		rd.acc <<= e.totalLen()
		rd.nbits -= e.totalLen()
		diff = e.value()
	} else {
		t, err := rd.decode(&d.dc[c.dcTab])
		if err != nil {
			return err
		}
		if diff, err = rd.receiveExtend(uint(t)); err != nil {
			return err
		}
	}
	c.pred += diff
	coef[0] = float32(c.pred * int32(q[0]))

	ac := &d.ac[c.acTab]
	acc, nbits := rd.acc, rd.nbits
	for k := 1; k < 64; k++ {
		if nbits < 32 {
			rd.acc, rd.nbits = acc, nbits
			if err := rd.fill(); err != nil {
				return err
			}
			acc, nbits = rd.acc, rd.nbits
		}
		e := ac.lut[acc>>(64-lookBits)]
		var rs uint8
		var v int32
		if n := e.totalLen(); n != 0 {
			rs, v = e.symbol(), e.value()
			if k+int(rs>>4) > 63 {
				// A run past the block end is dropped before its
				// magnitude bits are read (below), as image/jpeg and
				// libjpeg do: only the code is consumed.
				n = e.codeLen()
			}
			acc <<= n
			nbits -= n
		} else {
			// A long code or a long magnitude: the general path.
			rd.acc, rd.nbits = acc, nbits
			var err error
			if rs, err = rd.decode(ac); err != nil {
				return err
			}
			if s := uint(rs & 15); s != 0 && k+int(rs>>4) <= 63 {
				if v, err = rd.receiveExtend(s); err != nil {
					return err
				}
			}
			acc, nbits = rd.acc, rd.nbits
		}
		r, s := int(rs>>4), rs&15
		if s == 0 {
			if r != 15 {
				break // EOB
			}
			k += 15
			continue
		}
		k += r
		if k > 63 {
			// A run past the block end: image/jpeg and libjpeg both drop
			// the rest of the block rather than the file; so do we.
			break
		}
		if k <= maxK {
			d.put(&coef, k, v*int32(q[k]))
		}
	}
	rd.acc, rd.nbits = acc, nbits
	d.output(c, bx, by, &coef)
	return nil
}

// acFirst decodes a first-pass AC band of one block (T.81 G.1.2.2):
// coefficients ss..se scaled by 2^al, with end-of-band runs spanning blocks.
func (d *Decoder) acFirst(sp scanParams, c *component, bi int) error {
	if d.eobrun > 0 {
		d.eobrun--
		return nil
	}
	mk := d.maxK()
	ac := &d.ac[c.acTab]
	for k := int(sp.ss); k <= int(sp.se); k++ {
		rs, err := d.rd.decode(ac)
		if err != nil {
			return err
		}
		r, s := int(rs>>4), uint(rs&15)
		if s == 0 {
			if r < 15 {
				if err := d.readEOBRun(r); err != nil {
					return err
				}
				d.eobrun-- // this block is the first of the run
				return nil
			}
			k += 15 // ZRL: 16 zeros
			continue
		}
		k += r
		if k > int(sp.se) {
			break // as image/jpeg and libjpeg: drop the rest of the band
		}
		v, err := d.rd.receiveExtend(s)
		if err != nil {
			return err
		}
		v <<= sp.al
		if v != 0 {
			c.nz[bi] |= 1 << uint(k)
		}
		if k <= mk {
			c.acs[bi*mk+k-1] = int16(v)
		}
	}
	return nil
}

// readEOBRun sets eobrun from an EOBr symbol: 2^r plus r more bits.
func (d *Decoder) readEOBRun(r int) error {
	d.eobrun = 1 << uint(r)
	if r > 0 {
		extra, err := d.rd.bits(uint(r))
		if err != nil {
			return err
		}
		d.eobrun += int(extra)
	}
	return nil
}

// acRefine decodes a refinement AC band of one block (T.81 G.1.2.3): one
// correction bit for every coefficient already non-zero, and new
// coefficients of magnitude 2^al placed after runs of zero ones.
func (d *Decoder) acRefine(sp scanParams, c *component, bi int) error {
	mk := d.maxK()
	p1 := int32(1) << sp.al
	k, se := int(sp.ss), int(sp.se)
	// refine applies a correction bit to the non-zero coefficient k.
	refine := func(k int) error {
		bit, err := d.rd.bits(1)
		if err != nil || bit == 0 || k > mk {
			return err
		}
		v := int32(c.acs[bi*mk+k-1])
		if v&p1 == 0 {
			if v >= 0 {
				v += p1
			} else {
				v -= p1
			}
			c.acs[bi*mk+k-1] = int16(v)
		}
		return nil
	}
	if d.eobrun == 0 {
		ac := &d.ac[c.acTab]
		for ; k <= se; k++ {
			rs, err := d.rd.decode(ac)
			if err != nil {
				return err
			}
			r, s := int(rs>>4), rs&15
			var v int32
			if s != 0 {
				bit, err := d.rd.bits(1) // s is 1 in a valid file
				if err != nil {
					return err
				}
				v = -p1
				if bit != 0 {
					v = p1
				}
			} else if r != 15 {
				if err := d.readEOBRun(r); err != nil {
					return err
				}
				break // the rest of this band is refined below
			}
			// Refine non-zero coefficients on the way; stop at the
			// (r+1)-th zero one, where the new coefficient goes.
			for ; k <= se; k++ {
				if c.nz[bi]&(1<<uint(k)) != 0 {
					if err := refine(k); err != nil {
						return err
					}
				} else {
					if r == 0 {
						break
					}
					r--
				}
			}
			if v != 0 && k <= se {
				c.nz[bi] |= 1 << uint(k)
				if k <= mk {
					c.acs[bi*mk+k-1] = int16(v)
				}
			}
		}
	}
	if d.eobrun > 0 {
		for ; k <= se; k++ {
			if c.nz[bi]&(1<<uint(k)) != 0 {
				if err := refine(k); err != nil {
					return err
				}
			}
		}
		d.eobrun--
	}
	return nil
}

// reducedIDCT writes the n x n pixels of a block from its n x n lowest
// frequencies, separably: rows first, then columns.
func (d *Decoder) reducedIDCT(coef *[16]float32, out []uint8, stride int) {
	if d.n == 2 {
		d.idct2(coef, out, stride)
		return
	}
	t := &d.idct
	var tmp [16]float32 // tmp[v*4+x] = sum_u T[x][u] * F[v][u]
	for v := 0; v < 4; v++ {
		f := coef[v*4 : v*4+4 : v*4+4]
		for x := 0; x < 4; x++ {
			tx := &t[x]
			tmp[v*4+x] = tx[0]*f[0] + tx[1]*f[1] + tx[2]*f[2] + tx[3]*f[3]
		}
	}
	for y := 0; y < 4; y++ {
		ty := &t[y]
		row := out[y*stride : y*stride+4 : y*stride+4]
		for x := 0; x < 4; x++ {
			row[x] = clampPixel(128.5 + ty[0]*tmp[x] + ty[1]*tmp[4+x] + ty[2]*tmp[8+x] + ty[3]*tmp[12+x])
		}
	}
}

// idct2 is reducedIDCT for n = 2, written out.
func (d *Decoder) idct2(coef *[16]float32, out []uint8, stride int) {
	t := &d.idct
	a, b := t[0][0], t[0][1] // t[1][0] = a, t[1][1] = -b
	r0x0 := a*coef[0] + b*coef[1]
	r0x1 := a*coef[0] - b*coef[1]
	r1x0 := a*coef[2] + b*coef[3]
	r1x1 := a*coef[2] - b*coef[3]
	out[0] = clampPixel(128.5 + a*r0x0 + b*r1x0)
	out[1] = clampPixel(128.5 + a*r0x1 + b*r1x1)
	out[stride] = clampPixel(128.5 + a*r0x0 - b*r1x0)
	out[stride+1] = clampPixel(128.5 + a*r0x1 - b*r1x1)
}

func clampPixel(s float32) uint8 {
	switch {
	case s < 0:
		return 0
	case s >= 255:
		return 255
	}
	return uint8(s)
}
