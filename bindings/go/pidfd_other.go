//go:build !linux

package berth

import "syscall"

func pidfdOpen(pid int) (int, error) { return -1, syscall.ENOSYS }

func pidfdKill(pidfd int) error { return syscall.ENOSYS }
