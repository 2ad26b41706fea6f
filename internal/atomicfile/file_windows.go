//go:build windows

package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Windows has no file modes: a file is private when its ACL grants its
// owner alone, and inherits nothing from the folder. Files are created
// with that ACL (there is no moment when they are readable by others),
// and a file that existed gets it before anything is written.
//
// Files are opened with FILE_FLAG_OPEN_REPARSE_POINT, which opens a
// symlink or a junction itself instead of what it points to; such a
// handle is refused. They are shared for delete, so that a run reading
// the state does not stop another from replacing it.

// privateSDDL is an ACL, protected from inheritance, that gives the user
// sid full control and no one else anything.
func privateSDDL(sid *windows.SID) string {
	return "D:P(A;;FA;;;" + sid.String() + ")"
}

func currentUser() (*windows.SID, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("read the current user: %w", err)
	}
	return u.User.Sid, nil
}

func privateDescriptor() (*windows.SECURITY_DESCRIPTOR, error) {
	sid, err := currentUser()
	if err != nil {
		return nil, err
	}
	return windows.SecurityDescriptorFromString(privateSDDL(sid))
}

func create(path string, flag int) (*os.File, error) {
	sd, err := privateDescriptor()
	if err != nil {
		return nil, err
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	access := uint32(windows.READ_CONTROL | windows.WRITE_DAC)
	switch flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR) {
	case os.O_RDONLY:
		access |= windows.GENERIC_READ
	case os.O_WRONLY:
		access |= windows.GENERIC_WRITE
	case os.O_RDWR:
		access |= windows.GENERIC_READ | windows.GENERIC_WRITE
	}
	if flag&os.O_APPEND != 0 {
		// What GENERIC_WRITE grants but FILE_WRITE_DATA, so that every
		// write goes to the end, as the syscall package does for
		// O_APPEND.
		access &^= windows.GENERIC_WRITE
		access |= windows.FILE_APPEND_DATA | windows.FILE_WRITE_ATTRIBUTES | windows.FILE_WRITE_EA | windows.STANDARD_RIGHTS_WRITE | windows.SYNCHRONIZE
	}
	f, err := openHandle(path, access, disposition(flag), sa)
	if err != nil {
		return nil, err
	}
	// A file that existed keeps its ACL through CreateFile; replace it.
	dacl, _, err := sd.DACL()
	if err == nil {
		err = windows.SetSecurityInfo(windows.Handle(f.Fd()), windows.SE_FILE_OBJECT,
			windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	}
	if err != nil {
		f.Close()
		return nil, &fs.PathError{Op: "chmod", Path: path, Err: err}
	}
	return f, nil
}

// disposition maps os.OpenFile's creation flags to CreateFile's, as the
// syscall package does.
func disposition(flag int) uint32 {
	switch {
	case flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL:
		return windows.CREATE_NEW
	case flag&(os.O_CREATE|os.O_TRUNC) == os.O_CREATE|os.O_TRUNC:
		return windows.CREATE_ALWAYS
	case flag&os.O_CREATE != 0:
		return windows.OPEN_ALWAYS
	case flag&os.O_TRUNC != 0:
		return windows.TRUNCATE_EXISTING
	}
	return windows.OPEN_EXISTING
}

func open(path string) (*os.File, error) {
	return openHandle(path, windows.GENERIC_READ, windows.OPEN_EXISTING, nil)
}

// fileAttributeTagInfo is FILE_ATTRIBUTE_TAG_INFO.
type fileAttributeTagInfo struct {
	FileAttributes uint32
	ReparseTag     uint32
}

// openHandle opens path without following a symlink or a junction, and
// refuses either. Other reparse points (deduplicated files, files a cloud
// client keeps on demand) are files, and are opened as such.
func openHandle(path string, access, createMode uint32, sa *windows.SecurityAttributes) (*os.File, error) {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	const share = windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE
	h, err := windows.CreateFile(name, access, share, sa, createMode, windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var info fileAttributeTagInfo
	err = windows.GetFileInformationByHandleEx(h, windows.FileAttributeTagInfo, (*byte)(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)))
	switch {
	case err != nil:
		windows.CloseHandle(h)
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	case info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT == 0:
		return os.NewFile(uintptr(h), path), nil
	case info.ReparseTag == windows.IO_REPARSE_TAG_SYMLINK || info.ReparseTag == windows.IO_REPARSE_TAG_MOUNT_POINT:
		windows.CloseHandle(h)
		return nil, &fs.PathError{Op: "open", Path: path, Err: errSymlink}
	}
	windows.CloseHandle(h)
	h, err = windows.CreateFile(name, access, share, sa, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// replace moves from over to in one step, as MoveFileEx does with
// MOVEFILE_REPLACE_EXISTING; MOVEFILE_WRITE_THROUGH returns only once the
// move is on disk, which is what syncing the folder does elsewhere.
func replace(from, to string) error {
	f, err := windows.UTF16PtrFromString(from)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	t, err := windows.UTF16PtrFromString(to)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	if err := windows.MoveFileEx(f, t, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// syncDir has nothing to do: Windows cannot flush a folder, and replace
// writes the move through already.
func syncDir(string) error { return nil }

// CheckPrivate returns an error unless path is a regular file whose ACL
// grants access to its owner, the current user, alone and inherits
// nothing.
func CheckPrivate(path string) error {
	info, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%v)", path, info.Mode().Type())
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return err
	}
	control, _, err := sd.Control()
	if err != nil {
		return err
	}
	if control&windows.SE_DACL_PROTECTED == 0 {
		return fmt.Errorf("%s inherits its folder's permissions", path)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	if dacl == nil {
		return fmt.Errorf("%s has no ACL: everyone may open it", path)
	}
	me, err := currentUser()
	if err != nil {
		return err
	}
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return err
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if ace.Header.AceType == windows.ACCESS_ALLOWED_ACE_TYPE && !sid.Equals(me) {
			return fmt.Errorf("%s grants access to %s, not only to its owner", path, sid)
		}
	}
	if dacl.AceCount == 0 {
		return errors.New(path + " grants access to no one, its owner included")
	}
	return nil
}
