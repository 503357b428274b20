package journal

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrCorrupt means the state file's content cannot be read: bbolt found it
// inconsistent, a read ran past the end of a truncated file (a memory fault
// in the mapping), or a record does not decode. The runner quarantines such
// a file and starts empty.
var ErrCorrupt = errors.New("state file is corrupt")

// ErrUnusableDir means the state directory cannot be created or written: a
// file in its place, a read-only filesystem, missing permission, a full
// disk. Nothing is wrong with any state file, so nothing is moved aside.
var ErrUnusableDir = errors.New("state directory is unusable")

// guard runs fn with memory faults turned into panics and turns any panic
// into an ErrCorrupt error. bbolt reads its file through a memory map: a
// truncated file makes a read past its end raise SIGBUS, and damaged page
// headers make bbolt index out of range. Both must become a quarantine, not
// a crash. SetPanicOnFault applies to the calling goroutine only, which is
// why every read of the store at start runs through here on the caller's
// goroutine.
func guard(path string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, path, r)
		}
	}()
	return fn()
}

// walk reads every byte of every key and value of every bucket, nested
// ones included, on the calling goroutine, so that a page past the end of a
// truncated file is touched here (under guard) before bbolt's own checker
// touches it on a goroutine of its own, where a fault could not be
// recovered. The bytes go through a checksum so that no read can be
// optimised away.
func walk(tx *bolt.Tx) error {
	var sum uint32
	var visit func(b *bolt.Bucket) error
	visit = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			sum = crc32.Update(sum, crc32.IEEETable, k)
			if v == nil {
				nested := b.Bucket(k)
				if nested == nil {
					return fmt.Errorf("%w: key %x is neither a value nor a bucket", ErrCorrupt, k)
				}
				return visit(nested)
			}
			sum = crc32.Update(sum, crc32.IEEETable, v)
			return nil
		})
	}
	return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		sum = crc32.Update(sum, crc32.IEEETable, name)
		return visit(b)
	})
}

// usableDir creates dir (0700) if needed and proves it writable by
// creating and removing a file in it. Its error wraps ErrUnusableDir and
// names the directory and the cause.
func usableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnusableDir, dir, err)
	}
	probe, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("%w: %s is not writable: %w", ErrUnusableDir, dir, err)
	}
	_, werr := probe.Write([]byte("ok"))
	if werr == nil {
		werr = probe.Sync()
	}
	cerr := probe.Close()
	_ = os.Remove(probe.Name())
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("%w: %s is not writable: %w", ErrUnusableDir, dir, err)
	}
	return nil
}

// usableFile checks that an existing state file can be opened for reading
// and writing: a file the runner may not open is a permission problem, not
// a corrupt file, and must not be moved aside.
func usableFile(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnusableDir, path, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file (%s)", ErrUnusableDir, path, st.Mode().Type())
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnusableDir, path, err)
	}
	return f.Close()
}

// isIOError reports an error of the operating system (open, write, lock,
// map) rather than of the file's content: those make the directory
// unusable, they do not make the file corrupt.
func isIOError(err error) bool {
	var pe *fs.PathError
	var errno syscall.Errno
	return !errors.Is(err, ErrCorrupt) && (errors.As(err, &pe) || errors.As(err, &errno))
}

// quarantine moves a corrupt state file aside as state.db.corrupt-<time>,
// reports it, and opens a fresh store in its place.
func quarantine(path string, cause error, o Options) (*bolt.DB, error) {
	aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405.000000000Z"))
	if err := os.Rename(path, aside); err != nil {
		return nil, fmt.Errorf("%w: state file %s is corrupt (%v) and could not be moved aside: %w",
			ErrUnusableDir, path, cause, err)
	}
	o.Logger.Error("State file is corrupt or unreadable; moved it aside and starting with an empty state",
		"file", path, "moved_to", aside, "error", cause.Error())
	if o.OnCorrupt != nil {
		o.OnCorrupt()
	}
	db, err := openChecked(path)
	if err != nil {
		return nil, fmt.Errorf("new state file %s: %w", path, err)
	}
	return db, nil
}

// readAll reads everything Load and History return, so a record that does
// not decode, or a page that cannot be read, is found while the store can
// still be quarantined.
func (s *Store) readAll() error {
	if _, err := s.Load(); err != nil {
		return err
	}
	_, err := s.History(0)
	return err
}
