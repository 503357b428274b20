package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// precheck reads the state file's pages itself, before bbolt maps it, and
// refuses a file whose structure bbolt would trust blindly: a truncated
// file, a page id past the high-water mark, a page reached twice (a cycle
// bbolt's cursor would follow until memory runs out), element offsets
// outside their page, or a free list longer than its pages. bbolt then
// only ever sees a tree that is finite and inside the file; damage within
// keys and values is left to the decoders.
//
// The layout is bbolt's on-disk format (go.etcd.io/bbolt/internal/common):
// a 16-byte page header (id, flags, count, overflow), 16-byte branch and
// leaf elements whose pos is relative to the element, and two meta pages.
func precheck(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(data) == 0) {
		return nil // a new store
	}
	if err != nil {
		return err
	}
	c := pageCheck{data: data, seen: map[uint64]bool{}}
	if err := c.run(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	return nil
}

const (
	pageHeaderSize  = 16
	elementSize     = 16
	flagBranch      = 0x01
	flagLeaf        = 0x02
	flagFreelist    = 0x10
	leafBucketFlag  = 0x01
	boltMagic       = 0xED0CDAED
	noFreelist      = ^uint64(0)
	maxTreeDepth    = 64
	bucketHeaderLen = 16
)

type pageCheck struct {
	data     []byte
	pageSize uint64
	hwm      uint64
	seen     map[uint64]bool
}

type meta struct {
	pageSize, root, freelist, hwm, txid uint64
}

// readMeta returns the meta on page i if its magic and checksum hold.
func readMeta(data []byte, i, pageSize uint64) (meta, bool) {
	off := i*pageSize + pageHeaderSize
	if off+64 > uint64(len(data)) {
		return meta{}, false
	}
	b := data[off : off+64]
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != boltMagic {
		return meta{}, false
	}
	h := fnv.New64a()
	_, _ = h.Write(b[:56])
	if h.Sum64() != le.Uint64(b[56:]) {
		return meta{}, false
	}
	return meta{pageSize: uint64(le.Uint32(b[8:])), root: le.Uint64(b[16:]), freelist: le.Uint64(b[32:]),
		hwm: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}, true
}

func (c *pageCheck) run() error {
	m0, ok0 := readMeta(c.data, 0, 0)
	ps := m0.pageSize
	if !ok0 {
		ps = 4096 // bbolt's default; the second meta tells its own size
		for _, try := range []uint64{512, 1024, 2048, 4096, 8192, 16384, 32768, 65536} {
			if m, ok := readMeta(c.data, 1, try); ok && m.pageSize == try {
				ps = try
				break
			}
		}
	}
	m1, ok1 := readMeta(c.data, 1, ps)
	var m meta
	switch {
	case ok0 && ok1 && m1.txid > m0.txid, !ok0 && ok1:
		m = m1
	case ok0:
		m = m0
	default:
		return errors.New("no valid meta page")
	}
	if m.pageSize < 512 || m.pageSize > 1<<20 || m.pageSize&(m.pageSize-1) != 0 {
		return fmt.Errorf("page size %d", m.pageSize)
	}
	c.pageSize, c.hwm = m.pageSize, m.hwm
	if c.hwm < 3 || c.hwm > uint64(len(c.data))/c.pageSize {
		return fmt.Errorf("file of %d bytes is shorter than its %d pages of %d bytes (truncated)", len(c.data), c.hwm, c.pageSize)
	}
	if m.freelist != noFreelist {
		if err := c.freelist(m.freelist); err != nil {
			return err
		}
	}
	return c.tree(m.root, 0)
}

// page returns the bytes of page id with its overflow, after checking that
// they lie inside the file and under the high-water mark and that no other
// reference reached them before.
func (c *pageCheck) page(id uint64) (flags uint16, count int, body []byte, err error) {
	if id < 2 || id >= c.hwm {
		return 0, 0, nil, fmt.Errorf("page %d outside 2..%d", id, c.hwm-1)
	}
	off := id * c.pageSize
	h := c.data[off : off+pageHeaderSize]
	le := binary.LittleEndian
	if le.Uint64(h) != id {
		return 0, 0, nil, fmt.Errorf("page %d claims id %d", id, le.Uint64(h))
	}
	overflow := uint64(le.Uint32(h[12:]))
	if id+overflow >= c.hwm {
		return 0, 0, nil, fmt.Errorf("page %d overflows past the high-water mark", id)
	}
	for p := id; p <= id+overflow; p++ {
		if c.seen[p] {
			return 0, 0, nil, fmt.Errorf("page %d reached twice", p)
		}
		c.seen[p] = true
	}
	return le.Uint16(h[8:]), int(le.Uint16(h[10:])), c.data[off : off+(overflow+1)*c.pageSize], nil
}

func (c *pageCheck) freelist(id uint64) error {
	flags, count, body, err := c.page(id)
	if err != nil {
		return fmt.Errorf("free list: %w", err)
	}
	if flags&flagFreelist == 0 {
		return fmt.Errorf("free list page %d has flags %#x", id, flags)
	}
	n, start := uint64(count), uint64(pageHeaderSize)
	if count == 0xFFFF {
		if uint64(len(body)) < start+8 {
			return fmt.Errorf("free list page %d: no count", id)
		}
		n, start = binary.LittleEndian.Uint64(body[start:]), start+8
	}
	if n > (uint64(len(body))-start)/8 {
		return fmt.Errorf("free list page %d: %d ids do not fit", id, n)
	}
	for i := range n {
		if p := binary.LittleEndian.Uint64(body[start+8*i:]); p < 2 || p >= c.hwm {
			return fmt.Errorf("free list page %d: free page %d outside the file", id, p)
		}
	}
	return nil
}

// tree checks the pages of one bucket from its root.
func (c *pageCheck) tree(id uint64, depth int) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("page %d: tree deeper than %d", id, maxTreeDepth)
	}
	flags, count, body, err := c.page(id)
	if err != nil {
		return err
	}
	return c.elements(id, flags, count, body, depth)
}

// elements checks the elements of a page (body starts at its header) and
// follows branch children and nested buckets.
func (c *pageCheck) elements(id uint64, flags uint16, count int, body []byte, depth int) error {
	le := binary.LittleEndian
	if uint64(pageHeaderSize)+uint64(count)*elementSize > uint64(len(body)) {
		return fmt.Errorf("page %d: %d elements do not fit", id, count)
	}
	for i := range count {
		eoff := uint64(pageHeaderSize) + uint64(i)*elementSize
		e := body[eoff : eoff+elementSize]
		switch {
		case flags&flagBranch != 0:
			pos, ksize := uint64(le.Uint32(e[0:])), uint64(le.Uint32(e[4:]))
			if eoff+pos+ksize > uint64(len(body)) {
				return fmt.Errorf("page %d: key %d outside the page", id, i)
			}
			if err := c.tree(le.Uint64(e[8:]), depth+1); err != nil {
				return err
			}
		case flags&flagLeaf != 0:
			eflags, pos := le.Uint32(e[0:]), uint64(le.Uint32(e[4:]))
			ksize, vsize := uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
			if eoff+pos+ksize+vsize > uint64(len(body)) {
				return fmt.Errorf("page %d: element %d outside the page", id, i)
			}
			if eflags&leafBucketFlag == 0 {
				continue
			}
			v := body[eoff+pos+ksize : eoff+pos+ksize+vsize]
			if len(v) < bucketHeaderLen {
				return fmt.Errorf("page %d: bucket %d header too short", id, i)
			}
			if root := le.Uint64(v); root != 0 {
				if err := c.tree(root, depth+1); err != nil {
					return err
				}
				continue
			}
			inline := v[bucketHeaderLen:]
			if len(inline) < pageHeaderSize {
				return fmt.Errorf("page %d: inline bucket %d too short", id, i)
			}
			iflags, icount := le.Uint16(inline[8:]), int(le.Uint16(inline[10:]))
			if iflags&flagLeaf == 0 {
				return fmt.Errorf("page %d: inline bucket %d is not a leaf", id, i)
			}
			if err := c.elements(id, iflags, icount, inline, depth+1); err != nil {
				return err
			}
		default:
			return fmt.Errorf("page %d: flags %#x are neither branch nor leaf", id, flags)
		}
	}
	return nil
}

// prechecked runs precheck while holding the file's lock (the one bbolt
// takes), so a file another process is writing is reported as ErrLocked,
// never read half-written and taken for corrupt. The lock is released
// before bbolt opens the file and takes its own.
func prechecked(path string, exclusive bool, wait time.Duration) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s", ErrLocked, path)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return precheck(path)
}
