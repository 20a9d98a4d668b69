package podmanapi

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// LogOptions tune ContainerLogs.
type LogOptions struct {
	Follow     bool // keep streaming until the container stops or ctx ends
	Timestamps bool // prefix each line with its RFC 3339 time
	Tail       int  // only the last Tail lines; 0 for all
	// Terminal must be true for a container created with Terminal: its
	// log is one raw stream (all of it goes to stdout), not multiplexed.
	Terminal bool
}

// ContainerLogs copies the container's log to stdout and stderr (either
// may be nil to drop that stream) until the log ends, the container stops
// (with Follow) or ctx ends.
func (c *Client) ContainerLogs(ctx context.Context, id string, o LogOptions, stdout, stderr io.Writer) error {
	q := url.Values{"stdout": {"true"}, "stderr": {"true"}}
	if o.Follow {
		q.Set("follow", "true")
	}
	if o.Timestamps {
		q.Set("timestamps", "true")
	}
	if o.Tail > 0 {
		q.Set("tail", strconv.Itoa(o.Tail))
	}
	resp, err := c.do(ctx, http.MethodGet, withQuery(lp("/containers/%s/logs", id), q), nil, "", http.StatusOK)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if o.Terminal {
		_, err := io.Copy(orDiscard(stdout), resp.Body)
		return err
	}
	return Demux(resp.Body, stdout, stderr)
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Demux splits Podman's (and Docker's) multiplexed stream into stdout and
// stderr: frames of an 8-byte header (stream 0/1 = stdout, 2 = stderr,
// three zero bytes, big-endian payload length) and the payload. It
// returns nil at a clean end of stream and ErrBadFrame on anything else.
func Demux(r io.Reader, stdout, stderr io.Writer) error {
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("read log frame header: %w", err)
		}
		if hdr[0] > 2 || hdr[1] != 0 || hdr[2] != 0 || hdr[3] != 0 {
			return fmt.Errorf("%w: header % x", ErrBadFrame, hdr)
		}
		n := int64(binary.BigEndian.Uint32(hdr[4:]))
		w := orDiscard(stdout)
		if hdr[0] == 2 {
			w = orDiscard(stderr)
		}
		if m, err := io.CopyN(w, r, n); err != nil {
			if err == io.EOF {
				return fmt.Errorf("%w: payload cut short (%d of %d bytes)", ErrBadFrame, m, n)
			}
			return fmt.Errorf("copy log frame: %w", err)
		}
	}
}
