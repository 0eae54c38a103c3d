//! Commit writes: a VFS layer between SQLite and the pool's VFS that hands each commit's WAL frames to OPFS in one
//! access-handle `write`.
//!
//! SQLite writes a WAL frame as two calls, a 24-byte frame header then the page, so a commit touching `k` pages makes
//! `2k` OPFS writes through the sahpool VFS. This layer (a VFS registered under its own name, whose files embed the
//! pool's files) keeps the WAL's contiguous writes in memory and writes them out as one run:
//!
//! - **when a commit completes**: a frame header whose bytes 4..8 ("database size after commit") are non-zero marks
//!   a commit frame; the write of its page, at the header's end, writes the run out before `xWrite` returns. SQLite
//!   appends a transaction's frames in order and the commit frame last, so the run is the whole commit;
//! - **as they come, for what `walFrames` writes after the commit frame**: the commit frame's header rewritten by
//!   `walRewriteChecksums` when the transaction spilled its page cache (a header with a commit mark written below
//!   the highest byte written since the last commit: that function's last write), with whatever is pending; and
//!   under `synchronous=FULL`, every write after the `xSync` at the sync point (the rest of the padding frame that
//!   crosses it), except that a piece of a frame header shorter than a header waits for the page that follows it in
//!   the same `walWriteOneFrame`. The padding frames before the sync point are commit frames, written with their page;
//! - before anything that must see the bytes or order after them: a write that does not continue the run, `xRead`
//!   of a buffered range, `xSync`, `xTruncate`, `xFileSize`, `xFileControl`, `xClose` of the WAL;
//! - before a write that would grow the run past [`MAX_RUN`] bytes (a huge transaction: its early frames reach OPFS
//!   before the commit, as they would without the layer, and are ignored by recovery until a commit frame follows
//!   them).
//!
//! So **no byte of a commit is held past `walFrames`**: every byte SQLite writes for a transaction has been given to
//! the access handle's `write` before `walFrames` returns, as without the layer, and a failed write is the failure
//! of an `xWrite` (or `xSync`, `xRead`) inside it, which SQLite answers by failing the `COMMIT` and rolling the
//! transaction back; the connection goes on. Under `synchronous=NORMAL` SQLite never syncs the WAL at commit (nor
//! does the layer); under `FULL` its `xSync` reaches the access handle's `flush` after the buffered bytes are
//! written, in the order SQLite asked for. The main database, journals and temporary files pass through untouched,
//! and every other call is forwarded as it is.
//!
//! `SQLITE_FCNTL_COMMIT_PHASETWO`, which SQLite sends to the main database once a transaction has committed, is a
//! safety net: it writes out whatever a WAL still holds after a commit frame (nothing, by the above). Bytes held with
//! no commit frame after them are spilled frames of a transaction in progress or rolled back, which no commit needs:
//! they stay, so that a commit (even one that wrote nothing) cannot fail on them. Frames SQLite rolled back are
//! dropped, never written, when it writes the WAL (or its header) again from below them or truncates below them.
//!
//! Failures: a failed write of the run is the failure SQLite sees from the call that caused it, and the buffered
//! bytes are dropped. Where SQLite ignores that failure (`walLimitSize` ignores `xFileSize` and `xTruncate`; hints
//! ignore file controls) or can no longer undo what came before it (`COMMIT_PHASETWO`, `xClose`), the WAL file then
//! refuses all I/O (`SQLITE_IOERR`) until the store is closed and opened again, which recovers from what OPFS holds:
//! dropped bytes are never silently lost.
//!
//! The layer's files declare `sqlite3_io_methods` version 1 (no shared memory, no memory mapping), as the pool's do:
//! WAL then needs `locking_mode=EXCLUSIVE`, which the store uses, and keeps its index in heap memory.
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::HashMap;
use std::ffi::{CString, c_char, c_int, c_void};
use std::ptr;

use sqlite_wasm_rs::{
    SQLITE_ERROR, SQLITE_FCNTL_COMMIT_PHASETWO, SQLITE_FULL, SQLITE_IOERR, SQLITE_IOERR_NOMEM, SQLITE_OK,
    SQLITE_OPEN_WAL, sqlite3_file, sqlite3_int64, sqlite3_io_methods, sqlite3_vfs, sqlite3_vfs_find,
    sqlite3_vfs_register,
};

/// A WAL frame header: page number, database size after commit (non-zero only in a commit frame), salts, checksums.
const FRAME_HEADER: usize = 24;

/// The most bytes a run gathers before it is written out without waiting for its commit (4 MiB: a batch of
/// thousands of events); bounds the layer's memory for huge transactions.
pub(crate) const MAX_RUN: usize = 4 << 20;

/// A registered layer: SQLite sees `base`; `inner` is the pool's VFS that every call reaches.
#[repr(C)]
struct Layer {
    /// First, so that SQLite's `sqlite3_vfs*` is a `Layer*`. In an `UnsafeCell`: SQLite links it (`pNext`).
    base: UnsafeCell<sqlite3_vfs>,
    inner: Cell<*mut sqlite3_vfs>,
    /// False only in tests: the same layer counting writes without gathering them (what the pool alone does).
    gathers: bool,
    /// The WAL files open through this layer, written out at `COMMIT_PHASETWO`.
    wal_files: RefCell<Vec<*mut File>>,
    /// Writes of WAL files handed to the pool's VFS (each one OPFS `write`).
    wal_writes: Cell<u64>,
    _name: CString,
}

/// An open file: SQLite allocates `szOsFile` bytes, this header then the pool's file at [`INNER_OFFSET`].
#[repr(C)]
struct File {
    base: sqlite3_file,
    layer: *const Layer,
    /// The run of a WAL file (null for every other file), owned by this file until `xClose`.
    wal: *mut Run,
}

/// Where the pool's file starts in a [`File`]'s allocation (8-aligned, as SQLite's allocations are).
const INNER_OFFSET: usize = size_of::<File>().next_multiple_of(8);

/// Contiguous WAL bytes not yet written: `bytes` belong at offset `start`.
#[derive(Default)]
struct Run {
    bytes: Vec<u8>,
    start: u64,
    /// The offset of the page that completes the commit frame whose header was the last write.
    commit_page_at: Option<u64>,
    /// The end of the highest byte SQLite wrote since the last commit returned (`COMMIT_PHASETWO`) or failed: a
    /// commit frame header written below it is `walRewriteChecksums` rewriting the commit frame, its last write.
    high: u64,
    /// The end of SQLite's last write (where `walFrames` syncs under FULL, when it syncs).
    last_end: u64,
    /// Where the current commit stands in `walFrames`.
    tail: Tail,
    /// A write of the run failed where SQLite ignores or cannot act on the error: this file refuses I/O (see the
    /// module's documentation).
    failed: bool,
}

/// The part of `walFrames` after the commit frame, as the layer sees it.
#[derive(Clone, Copy, Default, PartialEq, Debug)]
enum Tail {
    /// No commit frame written since the last `COMMIT_PHASETWO`.
    #[default]
    None,
    /// A commit frame has been written (then come rewritten checksums, and under `FULL` the padding frames).
    Committed,
    /// ... and then the WAL was synced: the writes from this offset on (the rest of the frame that crosses the sync
    /// point) are the commit's last, and are written through.
    Synced(u64),
}

/// Why the run is written out: the error handling (and, in tests, fault injection) depends on it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Site {
    /// A write that does not continue the run, or would grow it past [`MAX_RUN`].
    Discontinuous,
    /// The page of a commit frame.
    CommitPage,
    /// The commit frame's header rewritten by `walRewriteChecksums`.
    RewrittenCommitHeader,
    /// A write after the sync point under `synchronous=FULL`.
    AfterSync,
    Read,
    Sync,
    Truncate,
    FileSize,
    FileControl,
    /// `SQLITE_FCNTL_COMMIT_PHASETWO`, the safety net: after a commit, nothing should be left to write.
    PhaseTwo,
    Close,
    /// A layer that does not gather (tests only): every write as SQLite made it.
    Counted,
}

impl Site {
    /// SQLite ignores failures here (`walLimitSize` ignores `xFileSize` and `xTruncate`, hints ignore file
    /// controls), or cannot undo what came before them (`COMMIT_PHASETWO`, `xClose`): a failed write of the run
    /// there makes the file refuse I/O, so that the bytes it drops are never silently lost.
    ///
    /// `xRead` too: a failed read does not stop the pager, and a statement that fails with `SQLITE_FULL` (what the
    /// pool reports for a full quota) may roll back only itself while its transaction goes on to commit, so spilled
    /// frames dropped by the failed write would be missing from a committed transaction.
    fn is_sticky(self) -> bool {
        matches!(self, Self::Read | Self::Truncate | Self::FileSize | Self::FileControl | Self::PhaseTwo | Self::Close)
    }

    /// Whether a failed write of the run with `code` makes the file refuse I/O at this site. Anywhere, a failure
    /// that is neither `SQLITE_IOERR` nor `SQLITE_FULL` (`SQLITE_NOMEM`, say) does: only those two put SQLite's
    /// pager into its error state, which rolls the whole transaction back.
    fn makes_sticky(self, code: c_int) -> bool {
        let primary = code & 0xff;
        self.is_sticky() || (primary != SQLITE_IOERR && primary != SQLITE_FULL)
    }
}

/// The capacity a run keeps after it is written out; a larger buffer (a big transaction's) is given back.
const KEPT_CAPACITY: usize = 64 << 10;

impl Run {
    fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }

    /// Forgets where the last commit stood: it has returned, or failed and is being rolled back.
    fn forget_commit(&mut self) {
        self.tail = Tail::None;
        self.high = 0;
        self.commit_page_at = None;
    }

    /// Forgets the buffered bytes at and after `offset` (SQLite truncated the file there, or starts writing the WAL
    /// over from below them).
    fn discard_from(&mut self, offset: u64) {
        if offset <= self.start {
            self.bytes.clear();
        } else if offset < self.end() {
            self.bytes.truncate((offset - self.start) as usize);
        }
        self.commit_page_at = None;
    }

    fn overlaps(&self, offset: u64, len: u64) -> bool {
        !self.bytes.is_empty() && offset < self.end() && self.start < offset + len
    }
}

thread_local! {
    /// Layers by name. Registered once per store name and never unregistered (a few hundred bytes each), so a
    /// pointer SQLite holds stays valid for the life of the worker.
    static LAYERS: RefCell<HashMap<String, &'static Layer>> = RefCell::new(HashMap::new());
}

/// Registers the layer `name` over the VFS `inner` (not as the default VFS), or points an existing one at the VFS
/// now registered as `inner` (a pool that was paused and resumed). Call with no file of `name` open.
pub(crate) fn install(name: &str, inner: &str) -> Result<(), String> {
    install_with(name, inner, true)
}

fn install_with(name: &str, inner: &str, gathers: bool) -> Result<(), String> {
    let inner_name = CString::new(inner).map_err(|_| format!("VFS name {inner:?} has a NUL"))?;
    // SAFETY: a NUL-terminated name; the result is a registered VFS or null.
    let inner_vfs = unsafe { sqlite3_vfs_find(inner_name.as_ptr()) };
    if inner_vfs.is_null() {
        return Err(format!("VFS {inner:?} is not registered"));
    }
    // SAFETY: a registered VFS stays valid while registered; we only read it.
    let inner_ref = unsafe { &*inner_vfs };
    LAYERS.with(|layers| {
        if let Some(layer) = layers.borrow().get(name) {
            // SAFETY: `base` is only written by SQLite's registry, which does not run concurrently (one thread).
            let size = unsafe { (*layer.base.get()).szOsFile };
            if size != INNER_OFFSET as c_int + inner_ref.szOsFile || layer.gathers != gathers {
                return Err(format!("VFS {name:?} is registered over a different VFS"));
            }
            layer.inner.set(inner_vfs);
            return Ok(());
        }
        let c_name = CString::new(name).map_err(|_| format!("VFS name {name:?} has a NUL"))?;
        let layer: &'static Layer = Box::leak(Box::new(Layer {
            base: UnsafeCell::new(sqlite3_vfs {
                iVersion: 2,
                szOsFile: INNER_OFFSET as c_int + inner_ref.szOsFile,
                mxPathname: inner_ref.mxPathname,
                pNext: ptr::null_mut(),
                zName: c_name.as_ptr(),
                pAppData: ptr::null_mut(),
                xOpen: Some(x_open),
                xDelete: Some(x_delete),
                xAccess: Some(x_access),
                xFullPathname: Some(x_full_pathname),
                // Extension loading is compiled out or disabled: SQLite never calls these.
                xDlOpen: None,
                xDlError: None,
                xDlSym: None,
                xDlClose: None,
                xRandomness: Some(x_randomness),
                xSleep: Some(x_sleep),
                xCurrentTime: Some(x_current_time),
                xGetLastError: Some(x_get_last_error),
                xCurrentTimeInt64: Some(x_current_time_int64),
                xSetSystemCall: None,
                xGetSystemCall: None,
                xNextSystemCall: None,
            }),
            inner: Cell::new(inner_vfs),
            gathers,
            wal_files: RefCell::new(Vec::new()),
            wal_writes: Cell::new(0),
            _name: c_name,
        }));
        // SAFETY: the leaked layer outlives the registration (never unregistered); SQLite is initialised (above).
        let code = unsafe { sqlite3_vfs_register(layer.base.get(), 0) };
        if code != SQLITE_OK {
            return Err(format!("registering VFS {name:?} failed with SQLite code {code}"));
        }
        layers.borrow_mut().insert(name.to_owned(), layer);
        Ok(())
    })
}

/// How many WAL writes layer `name` has handed to the VFS below it.
#[cfg(test)]
fn wal_writes(name: &str) -> u64 {
    LAYERS.with(|layers| layers.borrow()[name].wal_writes.get())
}

/// How many WAL bytes layer `name` holds unwritten, over all its open files.
#[cfg(test)]
fn buffered(name: &str) -> usize {
    LAYERS.with(|layers| {
        // SAFETY: files in the list are open, their runs live (see `x_close`).
        layers.borrow()[name].wal_files.borrow().iter().map(|&file| unsafe { (*(*file).wal).bytes.len() }).sum()
    })
}

// SAFETY (for the helpers and callbacks below): SQLite calls them on the worker's one thread with the pointers it
// got from this layer: a `*mut sqlite3_vfs` that is a registered `Layer`, and a `*mut sqlite3_file` of
// `szOsFile` bytes whose header `x_open` wrote and whose pool file follows at `INNER_OFFSET`. No callback re-enters
// the layer (the pool's VFS never calls SQLite back), so the short-lived references below never alias.

unsafe fn layer<'a>(vfs: *mut sqlite3_vfs) -> &'a Layer {
    unsafe { &*vfs.cast::<Layer>() }
}

unsafe fn inner_vfs(vfs: *mut sqlite3_vfs) -> *mut sqlite3_vfs {
    unsafe { layer(vfs).inner.get() }
}

unsafe fn inner_file(file: *mut sqlite3_file) -> *mut sqlite3_file {
    unsafe { file.cast::<u8>().add(INNER_OFFSET).cast() }
}

unsafe fn inner_methods<'a>(inner: *mut sqlite3_file) -> &'a sqlite3_io_methods {
    unsafe { &*(*inner).pMethods }
}

/// The file's run, if it is a WAL file.
unsafe fn run<'a>(file: *mut sqlite3_file) -> Option<&'a mut Run> {
    unsafe { (*file.cast::<File>()).wal.as_mut() }
}

unsafe fn file_layer<'a>(file: *mut sqlite3_file) -> &'a Layer {
    unsafe { &*(*file.cast::<File>()).layer }
}

#[cfg(test)]
thread_local! {
    /// Fault injection: the next write of the pool's file made for this reason fails (once).
    static FAIL_WRITE_AT: Cell<Option<Site>> = const { Cell::new(None) };
}

/// One write of the pool's file, counted.
unsafe fn write_inner(layer: &Layer, inner: *mut sqlite3_file, bytes: &[u8], offset: u64, site: Site) -> c_int {
    #[cfg(test)]
    if FAIL_WRITE_AT.with(|fail| fail.get()) == Some(site) {
        FAIL_WRITE_AT.with(|fail| fail.set(None));
        return sqlite_wasm_rs::SQLITE_IOERR_WRITE;
    }
    #[cfg(not(test))]
    let _ = site;
    layer.wal_writes.set(layer.wal_writes.get() + 1);
    let Some(x_write) = (unsafe { inner_methods(inner) }).xWrite else { return SQLITE_IOERR };
    // `bytes.len()` is at most MAX_RUN plus one SQLite write (an int), so it fits.
    unsafe { x_write(inner, bytes.as_ptr().cast(), bytes.len() as c_int, offset as sqlite3_int64) }
}

/// Writes the run out with one write of the pool's file and empties it (also when the write fails: SQLite then
/// fails the operation and rewrites what it still needs; where it would not, `site` makes the failure sticky).
unsafe fn write_run(layer: &Layer, inner: *mut sqlite3_file, run: &mut Run, site: Site) -> c_int {
    if run.bytes.is_empty() {
        return SQLITE_OK;
    }
    let code = unsafe { write_inner(layer, inner, &run.bytes, run.start, site) };
    run.bytes.clear();
    // Mid-transaction the next run grows as large again; otherwise give a big transaction's buffer back.
    if site != Site::Discontinuous && run.bytes.capacity() > KEPT_CAPACITY {
        run.bytes.shrink_to(KEPT_CAPACITY);
    }
    if code != SQLITE_OK && site.makes_sticky(code) {
        run.failed = true;
    }
    code
}

/// Writes out the run of `file` if it is a WAL file; the error code SQLite should see, if any (`error` once the
/// file has failed).
unsafe fn settle(file: *mut sqlite3_file, error: c_int, site: Site) -> Result<(), c_int> {
    let Some(run) = (unsafe { run(file) }) else { return Ok(()) };
    if run.failed {
        return Err(error);
    }
    match unsafe { write_run(file_layer(file), inner_file(file), run, site) } {
        SQLITE_OK => Ok(()),
        code => Err(code),
    }
}

unsafe extern "C" fn x_open(
    vfs: *mut sqlite3_vfs,
    name: *const c_char,
    file: *mut sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    unsafe {
        let layer = layer(vfs);
        let inner_vfs = layer.inner.get();
        let inner = inner_file(file);
        (*file).pMethods = ptr::null();
        (*inner).pMethods = ptr::null();
        let Some(open) = (*inner_vfs).xOpen else { return SQLITE_ERROR };
        let code = open(inner_vfs, name, inner, flags, out_flags);
        // SQLite closes a file only if its methods are set, so ours are set exactly when the pool's are.
        if (*inner).pMethods.is_null() {
            return code;
        }
        let wal = if flags & SQLITE_OPEN_WAL != 0 { Box::into_raw(Box::<Run>::default()) } else { ptr::null_mut() };
        ptr::write(file.cast::<File>(), File { base: sqlite3_file { pMethods: &METHODS }, layer, wal });
        if !wal.is_null() {
            layer.wal_files.borrow_mut().push(file.cast());
        }
        code
    }
}

unsafe extern "C" fn x_delete(vfs: *mut sqlite3_vfs, name: *const c_char, sync_dir: c_int) -> c_int {
    unsafe {
        let inner = inner_vfs(vfs);
        (*inner).xDelete.map_or(SQLITE_ERROR, |f| f(inner, name, sync_dir))
    }
}

unsafe extern "C" fn x_access(vfs: *mut sqlite3_vfs, name: *const c_char, flags: c_int, out: *mut c_int) -> c_int {
    unsafe {
        let inner = inner_vfs(vfs);
        (*inner).xAccess.map_or(SQLITE_ERROR, |f| f(inner, name, flags, out))
    }
}

unsafe extern "C" fn x_full_pathname(vfs: *mut sqlite3_vfs, name: *const c_char, n: c_int, out: *mut c_char) -> c_int {
    unsafe {
        let inner = inner_vfs(vfs);
        (*inner).xFullPathname.map_or(SQLITE_ERROR, |f| f(inner, name, n, out))
    }
}

unsafe extern "C" fn x_randomness(vfs: *mut sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    unsafe {
        let inner = inner_vfs(vfs);
        (*inner).xRandomness.map_or(0, |f| f(inner, n, out))
    }
}

unsafe extern "C" fn x_sleep(vfs: *mut sqlite3_vfs, microseconds: c_int) -> c_int {
    unsafe {
        let inner = inner_vfs(vfs);
        (*inner).xSleep.map_or(0, |f| f(inner, microseconds))
    }
}

unsafe extern "C" fn x_current_time(vfs: *mut sqlite3_vfs, out: *mut f64) -> c_int {
    unsafe {
        let inner = inner_vfs(vfs);
        (*inner).xCurrentTime.map_or(SQLITE_ERROR, |f| f(inner, out))
    }
}

unsafe extern "C" fn x_get_last_error(vfs: *mut sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    unsafe {
        let inner = inner_vfs(vfs);
        (*inner).xGetLastError.map_or(0, |f| f(inner, n, out))
    }
}

unsafe extern "C" fn x_current_time_int64(vfs: *mut sqlite3_vfs, out: *mut sqlite3_int64) -> c_int {
    unsafe {
        let inner = inner_vfs(vfs);
        match (*inner).xCurrentTimeInt64 {
            Some(f) => f(inner, out),
            None => {
                let mut days = 0.0;
                let code = x_current_time(vfs, &mut days);
                *out = (days * 86_400_000.0) as sqlite3_int64;
                code
            }
        }
    }
}

static METHODS: sqlite3_io_methods = sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

unsafe extern "C" fn x_close(file: *mut sqlite3_file) -> c_int {
    unsafe {
        let written = settle(file, SQLITE_OK, Site::Close);
        let inner = inner_file(file);
        let closed = inner_methods(inner).xClose.map_or(SQLITE_OK, |f| f(inner));
        let this = &mut *file.cast::<File>();
        if !this.wal.is_null() {
            (*this.layer).wal_files.borrow_mut().retain(|&open| open != file.cast::<File>());
            drop(Box::from_raw(this.wal));
            this.wal = ptr::null_mut();
        }
        match written {
            Err(code) if code != SQLITE_OK => code,
            _ => closed,
        }
    }
}

unsafe extern "C" fn x_read(file: *mut sqlite3_file, buf: *mut c_void, amount: c_int, offset: sqlite3_int64) -> c_int {
    unsafe {
        if let Some(run) = run(file) {
            if run.failed {
                return SQLITE_IOERR;
            }
            if run.overlaps(offset as u64, amount as u64) {
                if let Err(code) = settle(file, SQLITE_IOERR, Site::Read) {
                    return code;
                }
            }
        }
        let inner = inner_file(file);
        inner_methods(inner).xRead.map_or(SQLITE_IOERR, |f| f(inner, buf, amount, offset))
    }
}

unsafe extern "C" fn x_write(
    file: *mut sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: sqlite3_int64,
) -> c_int {
    unsafe {
        let inner = inner_file(file);
        let layer = file_layer(file);
        let Some(run) = run(file) else {
            return inner_methods(inner).xWrite.map_or(SQLITE_IOERR, |f| f(inner, buf, amount, offset));
        };
        if run.failed {
            return SQLITE_IOERR;
        }
        let bytes = std::slice::from_raw_parts(buf.cast::<u8>(), amount as usize);
        let offset = offset as u64;
        if !layer.gathers {
            return write_inner(layer, inner, bytes, offset, Site::Counted);
        }
        if let Tail::Synced(at) = run.tail {
            if offset < at {
                // Below the sync point: the commit failed after its sync and this is the next transaction.
                run.forget_commit();
            }
        }
        let is_header = bytes.len() == FRAME_HEADER;
        if !run.bytes.is_empty() && run.tail == Tail::None && (offset == 0 || (is_header && offset <= run.start)) {
            // A transaction appends at the WAL's end, so a frame header (or the WAL header) written at or below
            // everything held starts a new one over frames SQLite rolled back: they are dead, and never written.
            run.discard_from(offset);
            run.high = 0;
        }
        let commit_header = is_header && bytes[4..8] != [0; 4];
        // `walRewriteChecksums` rewrites every header from the first overwritten frame to the commit frame, whose
        // header (the only one with a commit mark) is its last write: nothing else of the commit follows under
        // NORMAL, so it is written now, with whatever is pending.
        let rewrites_commit = commit_header && offset < run.high;
        // After the sync point under FULL: the rest of the frame that crosses it. Written now, but for a piece of
        // a frame header shorter than a header, which its page follows in the same `walWriteOneFrame`.
        let after_sync = matches!(run.tail, Tail::Synced(_)) && bytes.len() >= FRAME_HEADER;
        if !run.bytes.is_empty() && (offset != run.end() || run.bytes.len() + bytes.len() > MAX_RUN) {
            let code = write_run(layer, inner, run, Site::Discontinuous);
            if code != SQLITE_OK {
                run.forget_commit();
                return code;
            }
        }
        let completes_commit = run.commit_page_at == Some(offset);
        if run.bytes.try_reserve(bytes.len()).is_err() {
            return SQLITE_IOERR_NOMEM;
        }
        if run.bytes.is_empty() {
            run.start = offset;
        }
        run.bytes.extend_from_slice(bytes);
        run.last_end = offset + bytes.len() as u64;
        run.high = run.high.max(run.last_end);
        // Also after a rewritten header: its page never follows it then, but should a commit header be taken for
        // one, its page still completes the commit.
        run.commit_page_at = commit_header.then_some(offset + FRAME_HEADER as u64);
        let site = if completes_commit {
            if run.tail == Tail::None {
                run.tail = Tail::Committed;
            }
            Site::CommitPage
        } else if rewrites_commit {
            Site::RewrittenCommitHeader
        } else if after_sync {
            Site::AfterSync
        } else {
            return SQLITE_OK;
        };
        let code = write_run(layer, inner, run, site);
        if code != SQLITE_OK {
            // SQLite fails this `walFrames` and rolls the transaction back; the next one starts afresh.
            run.forget_commit();
        }
        code
    }
}

unsafe extern "C" fn x_truncate(file: *mut sqlite3_file, size: sqlite3_int64) -> c_int {
    unsafe {
        if let Some(run) = run(file) {
            // Bytes past the new end would be cut off as soon as they were written.
            run.discard_from(size.max(0) as u64);
            run.high = run.high.min(size.max(0) as u64);
        }
        if let Err(code) = settle(file, SQLITE_IOERR, Site::Truncate) {
            return code;
        }
        let inner = inner_file(file);
        inner_methods(inner).xTruncate.map_or(SQLITE_IOERR, |f| f(inner, size))
    }
}

unsafe extern "C" fn x_sync(file: *mut sqlite3_file, flags: c_int) -> c_int {
    unsafe {
        if let Err(code) = settle(file, SQLITE_IOERR, Site::Sync) {
            if let Some(run) = run(file) {
                run.forget_commit();
            }
            return code;
        }
        if let Some(run) = run(file) {
            if run.tail == Tail::Committed {
                // `walFrames` syncs at the sync point under FULL; what it writes after this is the commit's tail.
                run.tail = Tail::Synced(run.last_end);
            }
        }
        let inner = inner_file(file);
        inner_methods(inner).xSync.map_or(SQLITE_IOERR, |f| f(inner, flags))
    }
}

unsafe extern "C" fn x_file_size(file: *mut sqlite3_file, size: *mut sqlite3_int64) -> c_int {
    unsafe {
        if let Err(code) = settle(file, SQLITE_IOERR, Site::FileSize) {
            return code;
        }
        let inner = inner_file(file);
        inner_methods(inner).xFileSize.map_or(SQLITE_IOERR, |f| f(inner, size))
    }
}

unsafe extern "C" fn x_lock(file: *mut sqlite3_file, level: c_int) -> c_int {
    unsafe {
        let inner = inner_file(file);
        inner_methods(inner).xLock.map_or(SQLITE_OK, |f| f(inner, level))
    }
}

unsafe extern "C" fn x_unlock(file: *mut sqlite3_file, level: c_int) -> c_int {
    unsafe {
        let inner = inner_file(file);
        inner_methods(inner).xUnlock.map_or(SQLITE_OK, |f| f(inner, level))
    }
}

unsafe extern "C" fn x_check_reserved_lock(file: *mut sqlite3_file, out: *mut c_int) -> c_int {
    unsafe {
        let inner = inner_file(file);
        inner_methods(inner).xCheckReservedLock.map_or(SQLITE_IOERR, |f| f(inner, out))
    }
}

unsafe extern "C" fn x_file_control(file: *mut sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    unsafe {
        if op == SQLITE_FCNTL_COMMIT_PHASETWO {
            // Sent to the main database when a transaction has committed. Its WAL bytes were all written inside
            // `walFrames`; should any be left after a commit frame, they are written now (and a failure is sticky).
            // Bytes held with no commit frame after them are another transaction's spilled frames (in progress, or
            // rolled back), which this commit does not need: they stay, so that a commit cannot fail on them.
            let wal_files = file_layer(file).wal_files.borrow().clone();
            let mut result = SQLITE_OK;
            for wal in wal_files {
                let Some(run) = run(wal.cast()) else { continue };
                if run.tail != Tail::None && result == SQLITE_OK {
                    if let Err(code) = settle(wal.cast(), SQLITE_IOERR, Site::PhaseTwo) {
                        result = code;
                    }
                }
                run.forget_commit();
            }
            if result != SQLITE_OK {
                return result;
            }
        } else if let Err(code) = settle(file, SQLITE_IOERR, Site::FileControl) {
            return code;
        }
        let inner = inner_file(file);
        inner_methods(inner).xFileControl.map_or(sqlite_wasm_rs::SQLITE_NOTFOUND, |f| f(inner, op, arg))
    }
}

unsafe extern "C" fn x_sector_size(file: *mut sqlite3_file) -> c_int {
    unsafe {
        let inner = inner_file(file);
        inner_methods(inner).xSectorSize.map_or(4096, |f| f(inner))
    }
}

unsafe extern "C" fn x_device_characteristics(file: *mut sqlite3_file) -> c_int {
    unsafe {
        let inner = inner_file(file);
        inner_methods(inner).xDeviceCharacteristics.map_or(0, |f| f(inner))
    }
}

#[cfg(test)]
mod tests {
    //! The layer over SQLite's in-memory VFS (`memvfs`, whose files outlive their connections), in Node: counts of
    //! the writes it hands down, and recovery by a second connection after the first is abandoned without closing
    //! (as a killed worker leaves OPFS), so that only what reached the VFS below counts.
    use super::*;

    use eventlite::{ExpectedVersion, Location, NewEvent, Store, StoreOptions, Synchronous};
    use rusqlite::{Connection, OpenFlags};
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn layers(label: &str) -> (String, String) {
        let (gathered, counted) = (format!("test-commits-{label}"), format!("test-counted-{label}"));
        install_with(&gathered, "memvfs", true).unwrap();
        install_with(&counted, "memvfs", false).unwrap();
        (gathered, counted)
    }

    fn store(vfs: &str, path: &str, synchronous: Synchronous) -> Store {
        let options =
            StoreOptions { vfs: Some(vfs.into()), exclusive_locking: true, synchronous, ..Default::default() };
        Store::open_with(Location::File(path.into()), options).unwrap()
    }

    fn event(n: usize) -> NewEvent {
        NewEvent::json("Benched", &serde_json::json!({ "n": n, "payload": "x".repeat(64) }))
    }

    /// Makes the next write of the VFS below for `site` fail; returns the site that was armed and has not failed.
    fn fail_next_write_at(site: Option<Site>) -> Option<Site> {
        FAIL_WRITE_AT.with(|fail| fail.replace(site))
    }

    fn count_and_max(connection: &Connection) -> (i64, i64) {
        connection
            .query_row("SELECT count(*), coalesce(max(version), 0) FROM events", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .unwrap()
    }

    /// Opens `path` again with the VFS below, as a new worker would after the first was killed.
    fn recover(path: &str) -> Connection {
        let second = Connection::open_with_flags_and_vfs(path, OpenFlags::SQLITE_OPEN_READ_WRITE, "memvfs").unwrap();
        second.pragma_update(None, "locking_mode", "EXCLUSIVE").unwrap();
        second
    }

    /// A WAL file opened through layer `vfs` directly, as SQLite would, to drive the layer call by call.
    struct WalFile {
        memory: Vec<u64>,
        _path: CString,
    }

    impl WalFile {
        fn open(vfs: &str, path: &str) -> Self {
            let name = CString::new(vfs).unwrap();
            let path = CString::new(path).unwrap();
            let flags = sqlite_wasm_rs::SQLITE_OPEN_READWRITE | sqlite_wasm_rs::SQLITE_OPEN_CREATE | SQLITE_OPEN_WAL;
            // SAFETY: a registered VFS, given `szOsFile` bytes (8-aligned) and a name that outlives the file.
            unsafe {
                let vfs = sqlite3_vfs_find(name.as_ptr());
                let mut memory = vec![0u64; (*vfs).szOsFile as usize / 8 + 1];
                let mut out_flags = 0;
                let code = (*vfs).xOpen.unwrap()(vfs, path.as_ptr(), memory.as_mut_ptr().cast(), flags, &mut out_flags);
                assert_eq!(code, SQLITE_OK);
                Self { memory, _path: path }
            }
        }

        fn file(&self) -> *mut sqlite3_file {
            self.memory.as_ptr().cast_mut().cast()
        }

        fn methods(&self) -> &sqlite3_io_methods {
            // SAFETY: the file is open (`open`), so its methods are set.
            unsafe { &*(*self.file()).pMethods }
        }

        fn write(&self, bytes: &[u8], offset: i64) -> c_int {
            // SAFETY: an open file, a buffer of the length given.
            unsafe { self.methods().xWrite.unwrap()(self.file(), bytes.as_ptr().cast(), bytes.len() as c_int, offset) }
        }

        fn close(self) -> c_int {
            // SAFETY: an open file, closed once (`self` is consumed).
            unsafe { self.methods().xClose.unwrap()(self.file()) }
        }
    }

    /// WAL writes handed down by `vfs` during `f`.
    fn writes_during(vfs: &str, f: impl FnOnce()) -> u64 {
        let before = wal_writes(vfs);
        f();
        wal_writes(vfs) - before
    }

    fn raw(vfs: &str, path: &str, synchronous: &str) -> Connection {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let connection = Connection::open_with_flags_and_vfs(path, flags, vfs).unwrap();
        connection.pragma_update(None, "locking_mode", "EXCLUSIVE").unwrap();
        connection.pragma_update(None, "journal_mode", "WAL").unwrap();
        connection.pragma_update(None, "synchronous", synchronous).unwrap();
        connection
            .execute_batch(
                "CREATE TABLE events (position INTEGER PRIMARY KEY, stream TEXT NOT NULL, version INTEGER NOT NULL,
                 type TEXT NOT NULL, data TEXT NOT NULL, UNIQUE (stream, version))",
            )
            .unwrap();
        connection
    }

    fn raw_insert(connection: &Connection, version: usize) {
        connection
            .execute(
                "INSERT INTO events (stream, version, type, data) VALUES ('bench-1', ?1, 'Benched', ?2)",
                rusqlite::params![version as i64, format!(r#"{{"n":{version},"payload":"{}"}}"#, "x".repeat(64))],
            )
            .unwrap();
    }

    #[test]
    fn a_one_event_commit_is_one_wal_write_and_no_more_than_raw_sqlite() {
        let (gathered, counted) = layers("one");
        for synchronous in [Synchronous::Normal, Synchronous::Full] {
            let sync = if synchronous == Synchronous::Full { "full" } else { "normal" };
            let store = store(&gathered, &format!("/one-{sync}.sqlite3"), synchronous);
            let plain = self::store(&counted, &format!("/one-plain-{sync}.sqlite3"), synchronous);
            let minimal = raw(&counted, &format!("/one-raw-{sync}.sqlite3"), sync);
            // Warm up past the first commits (schema, the WAL header and its sync).
            for n in 0..5 {
                store.append_to_stream("bench-1", &[event(n)], ExpectedVersion::Any).unwrap();
                plain.append_to_stream("bench-1", &[event(n)], ExpectedVersion::Any).unwrap();
                raw_insert(&minimal, n + 1);
            }
            for n in 5..25 {
                let ours = writes_during(&gathered, || {
                    store.append_to_stream("bench-1", &[event(n)], ExpectedVersion::Exact(n as u64)).unwrap();
                });
                let without = writes_during(&counted, || {
                    plain.append_to_stream("bench-1", &[event(n)], ExpectedVersion::Exact(n as u64)).unwrap();
                });
                let minimal = writes_during(&counted, || raw_insert(&minimal, n + 1));
                assert_eq!(buffered(&gathered), 0, "nothing is left unwritten when the commit returns");
                // FULL pads the commit to a sector boundary and syncs there: the bytes before the sync point are a
                // second write, those after it (written inside walFrames, right after the sync) a third.
                let most = if synchronous == Synchronous::Full { 3 } else { 1 };
                assert!(ours >= 1 && ours <= most, "{sync}: {ours} WAL writes for a 1-event commit");
                assert!(ours <= minimal, "{sync}: {ours} WAL writes, raw SQLite's 1-row insert makes {minimal}");
                assert!(without >= 4, "{sync}: the store's commit without the layer makes {without}");
            }
        }
    }

    /// Commits through the layer, then a second connection opened while the first is abandoned: it recovers from the
    /// bytes the VFS below received, which must hold every committed row.
    fn recovered_after_abandoning(label: &str, synchronous: &str, cache_pages: i64, rows_per_commit: usize) {
        let (gathered, _) = layers(label);
        let path = format!("/abandoned-{label}.sqlite3");
        let first = raw(&gathered, &path, synchronous);
        first.pragma_update(None, "cache_size", cache_pages).unwrap();
        let mut version = 0;
        for _ in 0..4 {
            first.execute_batch("BEGIN IMMEDIATE").unwrap();
            for _ in 0..rows_per_commit {
                version += 1;
                raw_insert(&first, version);
            }
            // Every byte of the commit is written inside `walFrames`: the safety net at COMMIT_PHASETWO has
            // nothing to write, so a failure there would go unnoticed.
            fail_next_write_at(Some(Site::PhaseTwo));
            first.execute_batch("COMMIT").unwrap();
            assert_eq!(fail_next_write_at(None), Some(Site::PhaseTwo), "{label}: COMMIT_PHASETWO wrote WAL bytes");
            assert_eq!(buffered(&gathered), 0);
        }
        // A transaction left open (never committed) must not appear.
        first.execute_batch("BEGIN IMMEDIATE").unwrap();
        raw_insert(&first, version + 1);
        std::mem::forget(first);

        assert_eq!(count_and_max(&recover(&path)), (version as i64, version as i64));
    }

    #[test]
    fn committed_rows_reach_the_vfs_below_before_commit_returns() {
        recovered_after_abandoning("normal", "normal", 2000, 50);
        recovered_after_abandoning("full", "full", 2000, 50);
    }

    #[test]
    fn a_transaction_that_spills_its_cache_rewrites_checksums_and_still_commits_whole() {
        // A 10-page cache: the transactions spill frames before their commit and rewrite their checksums after it.
        recovered_after_abandoning("spill-normal", "normal", 10, 2000);
        recovered_after_abandoning("spill-full", "full", 10, 2000);
    }

    #[test]
    fn a_huge_transaction_is_written_in_runs_of_bounded_size() {
        let (gathered, _) = layers("huge");
        let connection = raw(&gathered, "/huge.sqlite3", "normal");
        let payload = "y".repeat(4000);
        let before = wal_writes(&gathered);
        connection.execute_batch("BEGIN IMMEDIATE").unwrap();
        for version in 1..=3000 {
            connection
                .execute(
                    "INSERT INTO events (stream, version, type, data) VALUES ('big-1', ?1, 'Big', ?2)",
                    rusqlite::params![version, payload],
                )
                .unwrap();
        }
        connection.execute_batch("COMMIT").unwrap();
        let writes = wal_writes(&gathered) - before;
        assert!(writes >= 3, "about 12 MB of frames in runs of at most 4 MiB: {writes} writes");
        assert_eq!(buffered(&gathered), 0);
    }

    #[test]
    fn a_failed_commit_page_write_fails_the_commit_and_leaves_nothing_partial() {
        for synchronous in ["normal", "full"] {
            let (gathered, _) = layers(&format!("fail-commit-{synchronous}"));
            let path = format!("/fail-commit-{synchronous}.sqlite3");
            let first = raw(&gathered, &path, synchronous);
            for version in 1..=3 {
                raw_insert(&first, version);
            }
            fail_next_write_at(Some(Site::CommitPage));
            first.execute_batch("BEGIN IMMEDIATE").unwrap();
            raw_insert(&first, 4);
            let failed = first.execute_batch("COMMIT");
            assert_eq!(fail_next_write_at(None), None, "{synchronous}: the commit page was written");
            assert!(failed.is_err(), "{synchronous}: COMMIT succeeded though its commit frame was not written");
            assert_eq!(buffered(&gathered), 0);
            // The connection goes on: the transaction was rolled back, the next one commits.
            assert!(first.is_autocommit());
            raw_insert(&first, 4);
            assert_eq!(count_and_max(&first), (4, 4));
            std::mem::forget(first);
            assert_eq!(count_and_max(&recover(&path)), (4, 4), "{synchronous}: recovered");
        }
    }

    #[test]
    fn a_failed_write_after_the_sync_point_under_full_fails_the_commit() {
        let (gathered, _) = layers("fail-after-sync");
        let path = "/fail-after-sync.sqlite3";
        let first = raw(&gathered, path, "full");
        raw_insert(&first, 1);
        // Not every commit ends past a sector boundary: commit until one writes bytes after its sync point.
        let mut version = 1;
        let mut failures = 0;
        for _ in 0..20 {
            fail_next_write_at(Some(Site::AfterSync));
            first.execute_batch("BEGIN IMMEDIATE").unwrap();
            raw_insert(&first, version + 1);
            let committed = first.execute_batch("COMMIT");
            let fired = fail_next_write_at(None).is_none();
            assert_eq!(committed.is_err(), fired, "COMMIT fails exactly when a write after its sync point fails");
            if fired {
                failures += 1;
                assert!(first.is_autocommit());
            } else {
                version += 1;
            }
            assert_eq!(buffered(&gathered), 0, "after commit {version} (failed: {fired})");
            assert_eq!(count_and_max(&first), (version as i64, version as i64));
        }
        assert!(failures > 0, "no commit under FULL wrote past its sync point");
        raw_insert(&first, version + 1);
        version += 1;
        assert_eq!(count_and_max(&first), (version as i64, version as i64));
        std::mem::forget(first);
        assert_eq!(count_and_max(&recover(path)), (version as i64, version as i64));
    }

    #[test]
    fn a_failed_write_inside_x_file_size_makes_the_wal_refuse_io() {
        // `walLimitSize` ignores the result of xFileSize, so a failure there must not just drop the bytes.
        let (gathered, _) = layers("fail-file-size");
        let wal = WalFile::open(&gathered, "/fail-file-size.sqlite3-wal");
        let frame = [7u8; 100];
        assert_eq!(wal.write(&frame, 32), SQLITE_OK);
        assert_eq!(buffered(&gathered), 100);
        fail_next_write_at(Some(Site::FileSize));
        let mut size = 0;
        // SAFETY: an open file of the layer.
        assert_ne!(unsafe { wal.methods().xFileSize.unwrap()(wal.file(), &mut size) }, SQLITE_OK);
        assert_eq!(fail_next_write_at(None), None);
        // The bytes are gone, so the file says so to whatever comes next, until it is opened again.
        let mut read = [0u8; 100];
        // SAFETY: as above, with a buffer of the length given.
        assert_eq!(
            unsafe { wal.methods().xRead.unwrap()(wal.file(), read.as_mut_ptr().cast(), 100, 32) },
            SQLITE_IOERR
        );
        assert_eq!(wal.write(&frame, 132), SQLITE_IOERR);
        // SAFETY: as above.
        assert_ne!(unsafe { wal.methods().xSync.unwrap()(wal.file(), 0) }, SQLITE_OK);
        wal.close();
    }

    #[test]
    fn a_failed_write_inside_x_read_makes_the_wal_refuse_io() {
        // A failed read does not stop SQLite's pager, and a statement failing with SQLITE_FULL may roll back only
        // itself: spilled frames the failed write dropped must not go unnoticed by a later commit.
        let (gathered, _) = layers("fail-read");
        let wal = WalFile::open(&gathered, "/fail-read.sqlite3-wal");
        let frame = [7u8; 100];
        assert_eq!(wal.write(&frame, 32), SQLITE_OK);
        fail_next_write_at(Some(Site::Read));
        let mut read = [0u8; 100];
        // SAFETY: an open file of the layer, with a buffer of the length given.
        assert_ne!(unsafe { wal.methods().xRead.unwrap()(wal.file(), read.as_mut_ptr().cast(), 100, 32) }, SQLITE_OK);
        assert_eq!(fail_next_write_at(None), None);
        assert_eq!(wal.write(&frame, 132), SQLITE_IOERR, "the WAL refuses I/O until it is opened again");
        wal.close();
    }

    #[test]
    fn only_io_and_full_errors_of_a_spill_leave_the_wal_usable() {
        // Those two stop SQLite's pager, which rolls the whole transaction back; any other code may not.
        for site in [Site::Discontinuous, Site::Sync, Site::CommitPage] {
            assert!(!site.makes_sticky(SQLITE_IOERR), "{site:?}");
            assert!(!site.makes_sticky(SQLITE_FULL), "{site:?}");
            assert!(site.makes_sticky(sqlite_wasm_rs::SQLITE_NOMEM), "{site:?}");
        }
        assert!(Site::Read.makes_sticky(SQLITE_FULL));
    }

    #[test]
    fn a_commit_header_that_fills_the_run_still_writes_its_commit() {
        let (gathered, _) = layers("at-limit");
        let wal = WalFile::open(&gathered, "/at-limit.sqlite3-wal");
        // Frames filling the run to a frame header short of MAX_RUN, then a commit frame.
        let frames = vec![1u8; MAX_RUN - FRAME_HEADER];
        let mut header = [0u8; FRAME_HEADER];
        header[7] = 1;
        let page = [2u8; 4096];
        assert_eq!(wal.write(&frames, 32), SQLITE_OK);
        let header_at = 32 + frames.len() as i64;
        assert_eq!(wal.write(&header, header_at), SQLITE_OK);
        assert_eq!(wal.write(&page, header_at + FRAME_HEADER as i64), SQLITE_OK);
        assert_eq!(buffered(&gathered), 0, "the commit frame's page writes the run out");
        assert_eq!(wal.close(), SQLITE_OK);
    }

    #[test]
    fn a_commit_after_a_rolled_back_spill_does_not_write_its_frames() {
        let (gathered, _) = layers("rolled-back");
        let path = "/rolled-back.sqlite3";
        let connection = raw(&gathered, path, "normal");
        connection.pragma_update(None, "cache_size", 10).unwrap();
        raw_insert(&connection, 1);
        connection.execute_batch("BEGIN IMMEDIATE").unwrap();
        for version in 2..500 {
            raw_insert(&connection, version);
        }
        connection.execute_batch("ROLLBACK").unwrap();
        // A transaction that writes nothing cannot fail on the rolled-back frames.
        fail_next_write_at(Some(Site::PhaseTwo));
        connection.execute_batch("BEGIN IMMEDIATE; COMMIT").unwrap();
        fail_next_write_at(None);
        raw_insert(&connection, 2);
        assert_eq!(buffered(&gathered), 0);
        assert_eq!(count_and_max(&connection), (2, 2));
        std::mem::forget(connection);
        assert_eq!(count_and_max(&recover(path)), (2, 2));
    }
}
