package berth

import (
	"fmt"
	"syscall"
)

// ErrorKind classifies an [Error]. The numbers are those of the C ABI's berth_error_kind:
// a number never changes meaning, and new kinds may be added, so handle unknown values.
type ErrorKind int

// The kinds of error berth reports.
const (
	// KindInvalidArgument: the caller passed something malformed or out of range (invalid
	// JSON, an unknown or bad field, a bad signal number, a closed file).
	KindInvalidArgument ErrorKind = 1
	// KindNotFound: no container with that id exists.
	KindNotFound ErrorKind = 2
	// KindAlreadyExists: a container with that id exists already.
	KindAlreadyExists ErrorKind = 3
	// KindInvalidState: the container (or the driver) is not in a state that allows the
	// operation.
	KindInvalidState ErrorKind = 4
	// KindUnsupported: the driver or platform does not implement the operation or option.
	KindUnsupported ErrorKind = 5
	// KindPermission: the operating system refused for lack of privilege.
	KindPermission ErrorKind = 6
	// KindSystem: a system call or OS service failed.
	KindSystem ErrorKind = 7
	// KindInternal: a bug in berth.
	KindInternal ErrorKind = 8
)

// String returns the kind's name as berth's messages use it ("not found").
func (k ErrorKind) String() string {
	switch k {
	case KindInvalidArgument:
		return "invalid argument"
	case KindNotFound:
		return "not found"
	case KindAlreadyExists:
		return "already exists"
	case KindInvalidState:
		return "invalid state"
	case KindUnsupported:
		return "unsupported"
	case KindPermission:
		return "permission denied"
	case KindSystem:
		return "system error"
	case KindInternal:
		return "internal error"
	}
	return fmt.Sprintf("error kind %d", int(k))
}

// Error is an error reported by libberth (or by this package before calling it): the
// operation, a kind, berth's message, which names the field or step at fault
// ("invalid command.process.cwd: ..."), and the OS error behind it, if any.
//
// Test the kind with errors.Is and the sentinels (errors.Is(err, berth.ErrNotFound)), the
// OS error with errors.Is and its syscall.Errno (errors.Is(err, syscall.ENOSPC), which
// Unwrap makes work), or read them with errors.As:
//
//	var berr *berth.Error
//	if errors.As(err, &berr) && berr.Kind == berth.KindInvalidArgument { ... }
type Error struct {
	// Op is the operation that failed: "run", "exec", "kill", "create", ...
	Op string
	// Kind classifies the error.
	Kind ErrorKind
	// Message is berth's message.
	Message string
	// Errno is the OS error code behind the error (berth_error_errno), 0 when it did not
	// come from the OS.
	Errno syscall.Errno
}

// Error formats the error as "berth <op>: <message>".
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Kind.String()
	}
	if e.Op == "" {
		return "berth: " + msg
	}
	return "berth " + e.Op + ": " + msg
}

// Is reports whether target is a sentinel of the same kind (an *Error with no Op, no
// Message and no Errno, such as ErrNotFound).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Op == "" && t.Message == "" && t.Errno == 0 && t.Kind == e.Kind
}

// Unwrap returns the OS error behind e (its Errno), or nil when there is none, so that
// errors.Is(err, syscall.ENOSPC) and errors.Is(err, fs.ErrNotExist) look at it.
func (e *Error) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// Sentinels, one per kind, for errors.Is.
var (
	ErrInvalidArgument = &Error{Kind: KindInvalidArgument}
	ErrNotFound        = &Error{Kind: KindNotFound}
	ErrAlreadyExists   = &Error{Kind: KindAlreadyExists}
	ErrInvalidState    = &Error{Kind: KindInvalidState}
	ErrUnsupported     = &Error{Kind: KindUnsupported}
	ErrPermission      = &Error{Kind: KindPermission}
	ErrSystem          = &Error{Kind: KindSystem}
	ErrInternal        = &Error{Kind: KindInternal}
)

func newError(op string, kind ErrorKind, format string, args ...interface{}) *Error {
	return &Error{Op: op, Kind: kind, Message: fmt.Sprintf(format, args...)}
}
