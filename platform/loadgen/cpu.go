package loadgen

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTimes are CPU times (user + system) used so far by this process (the load generator),
// by the all-in-one, and by every process of the machine (0 if unknown: no process, no /proc).
type cpuTimes struct{ gen, server, busy time.Duration }

func (p *Platform) cpu() cpuTimes {
	var t cpuTimes
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		t.gen = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if p.cmd != nil && p.cmd.Process != nil {
		t.server = procCPU(p.cmd.Process.Pid)
	}
	t.busy = machineBusy()
	return t
}

// machineBusy reads the CPU time all processes used, from the first line of /proc/stat
// ("cpu user nice system idle iowait irq softirq steal ...", in 1/100 s), or 0.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * 10 * time.Millisecond
}

// procCPU reads utime + stime of process pid from /proc/<pid>/stat (in clock ticks of 1/100 s,
// the USER_HZ of Linux on amd64 and arm), or 0.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces: count from after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
