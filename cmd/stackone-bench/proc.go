package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat; 100 on every Linux the collector
// ships for.
const clockTicks = 100

// procCPU is user+system CPU time of a running process, from /proc/<pid>/stat (all its threads).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

func parseStatCPU(stat string) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no ')' in /proc stat")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc stat: %d fields", len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procField reads one "Name: value" line of a /proc file as an integer (the first number on the line).
func procField(path, name string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	return parseProcField(f, name)
}

func parseProcField(r io.Reader, name string) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != name {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			return 0, fmt.Errorf("%s: no value", name)
		}
		return strconv.ParseInt(fs[0], 10, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s not found", name)
}

// peakRSS is VmHWM in bytes.
func peakRSS(pid int) (int64, error) {
	kb, err := procField(fmt.Sprintf("/proc/%d/status", pid), "VmHWM")
	return kb * 1024, err
}

// ioCounters are a process's write counters from /proc/<pid>/io.
type ioCounters struct {
	// Chars is every byte passed to write-like system calls: files, sockets and pipes alike.
	Chars int64
	// Block is what the process made the block layer write. A page dirtied again before writeback counts once,
	// so with file_storage's default (no fsync) it undercounts a file rewritten often.
	Block int64
}

func procIO(pid int) (ioCounters, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return ioCounters{}, err
	}
	wchar, err1 := parseProcField(strings.NewReader(string(b)), "wchar")
	block, err2 := parseProcField(strings.NewReader(string(b)), "write_bytes")
	return ioCounters{Chars: wchar, Block: block}, errors.Join(err1, err2)
}

// countingListener counts the bytes read from its connections: on loopback, exactly what the peer wrote to them.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	k, err := c.Conn.Read(b)
	c.n.Add(int64(k))
	return k, err
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	k, err := c.w.Write(b)
	c.n.Add(int64(k))
	return k, err
}

// child is a started process whose output goes to a log file through a pipe.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startChild starts name with its output going to logPath; logged counts the bytes the child wrote there.
func startChild(logPath string, logged *atomic.Int64, name string, args ...string) (*child, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	// Not the *os.File itself: exec then copies through a pipe that the driver counts.
	w := countingWriter{w: lf, n: logged}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		_ = lf.Close()
		return nil, err
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		_ = lf.Close()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to grace, then kills.
func (c *child) stop(grace time.Duration) {
	if c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// cpuAtExit is user+system time of an exited process.
func (c *child) cpuAtExit() time.Duration {
	ps := c.cmd.ProcessState
	if ps == nil {
		return 0
	}
	return ps.UserTime() + ps.SystemTime()
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// promSample is one line of the Prometheus text format.
type promSample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

func scrapeMetrics(url string) ([]promSample, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return parseProm(resp.Body)
}

// parseProm reads the Prometheus text exposition format, enough for counters and gauges.
func parseProm(r io.Reader) ([]promSample, error) {
	var out []promSample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := promSample{Labels: map[string]string{}}
		var rest string
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("bad sample %q", line)
			}
			s.Name = line[:i]
			parseLabels(line[i+1:j], s.Labels)
			rest = line[j+1:]
		} else {
			name, r, _ := strings.Cut(line, " ")
			s.Name, rest = name, r
		}
		fs := strings.Fields(rest)
		if len(fs) == 0 {
			return nil, fmt.Errorf("bad sample %q", line)
		}
		v, err := strconv.ParseFloat(fs[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bad value in %q: %w", line, err)
		}
		s.Value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseLabels(s string, into map[string]string) {
	for s != "" {
		k, rest, ok := strings.Cut(s, "=\"")
		if !ok {
			return
		}
		var v strings.Builder
		i := 0
		for ; i < len(rest); i++ {
			c := rest[i]
			if c == '\\' && i+1 < len(rest) {
				i++
				switch rest[i] {
				case 'n':
					v.WriteByte('\n')
				default:
					v.WriteByte(rest[i])
				}
				continue
			}
			if c == '"' {
				break
			}
			v.WriteByte(c)
		}
		into[strings.TrimSpace(strings.TrimPrefix(k, ","))] = v.String()
		if i >= len(rest) {
			return
		}
		s = strings.TrimPrefix(rest[i+1:], ",")
	}
}

// sumMetric adds up every series whose name starts with prefix (counters gain a _total suffix in Prometheus).
func sumMetric(samples []promSample, prefix string) (float64, bool) {
	var sum float64
	found := false
	for _, s := range samples {
		if strings.HasPrefix(s.Name, prefix) {
			sum += s.Value
			found = true
		}
	}
	return sum, found
}

// byLabel adds up the series of a metric per value of one label.
func byLabel(samples []promSample, prefix, label string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range samples {
		if strings.HasPrefix(s.Name, prefix) {
			out[s.Labels[label]] += s.Value
		}
	}
	return out
}

// checkpointBytes finds the counter of bytes written to storage, whatever its exact name ends up being.
func checkpointBytes(samples []promSample) (float64, bool) {
	var sum float64
	found := false
	for _, s := range samples {
		n := s.Name
		// A histogram of write sizes counts through its _sum; its buckets and count are not bytes.
		if strings.HasSuffix(n, "_bucket") || strings.HasSuffix(n, "_count") {
			continue
		}
		if strings.HasPrefix(n, "otelcol_receiver_stackone_") && strings.Contains(n, "checkpoint") && strings.Contains(n, "byte") {
			sum += s.Value
			found = true
		}
	}
	return sum, found
}
