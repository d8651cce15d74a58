//! Memory accounting: a global allocator that counts the bytes the process
//! has allocated, so `used_memory` and the `maxmemory` limit see what the
//! data really costs (as Redis's zmalloc does), not an estimate.
//!
//! The count is kept in per-thread slots (one cache line each): a thread
//! owns its slot alone and updates it with a plain load and store (no
//! locked instruction on the allocation path); threads started after the
//! slots ran out share one slot, updated atomically. Reading sums the
//! slots.
//! It includes everything the process allocates (keys, values, tables,
//! client buffers), which is what Redis's `used_memory` reports too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

const SLOTS: usize = 128;

/// The slot of threads that found no slot of their own.
const SHARED: usize = 0;

#[repr(align(64))]
struct Slot(AtomicIsize);

static COUNTERS: [Slot; SLOTS] = [const { Slot(AtomicIsize::new(0)) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(1);
static INSTALLED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Adds `delta` to the calling thread's count. A slot index other than
/// [`SHARED`] is handed out once, never again (slots are not recycled when
/// threads end), so only its owner ever writes it.
#[inline]
fn count(delta: isize) {
    let i = MY_SLOT
        .try_with(|s| {
            let mut i = s.get();
            if i == usize::MAX {
                i = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
                if i >= SLOTS {
                    i = SHARED;
                }
                s.set(i);
            }
            i
        })
        .unwrap_or(SHARED);
    let c = &COUNTERS[i].0;
    if i == SHARED {
        c.fetch_add(delta, Ordering::Relaxed);
    } else {
        c.store(c.load(Ordering::Relaxed).wrapping_add(delta), Ordering::Relaxed);
    }
}

/// A transparent huge page on x86-64. Blocks from this size on are backed
/// by huge pages where the kernel allows it (see [`advise_huge`]).
const HUGE_PAGE: usize = 2 << 20;

/// Asks the kernel to back the 2 MiB-aligned inside of a large block with
/// huge pages (`MADV_HUGEPAGE`; it matters where THP is in `madvise` mode,
/// Debian's default, and changes nothing under `always` or `never`). The
/// big arrays of a large data set (keyspace tables, a large sorted set's
/// skip list, a big hash's table) are read at random places, and with
/// 4 KiB pages nearly every step of a lookup in them also misses the TLB:
/// a ZADD into a 1M-member sorted set took 5.45 µs of CPU instead of 7.88
/// (pinned, P16; Redis 7.16). Only pages faulted after the advice come
/// huge, which is why large blocks grow by copy (see `realloc`). Memory:
/// at most one partly used 2 MiB page more per block (RSS of the 1M-member
/// sorted set unchanged). A page written while a snapshot child runs is
/// still copied 4 KiB at a time (kernels since 5.8 split a shared huge
/// page on write).
#[cold]
#[inline(never)]
fn advise_huge(p: *mut u8, size: usize) {
    let start = (p as usize).next_multiple_of(HUGE_PAGE);
    let end = (p as usize + size) & !(HUGE_PAGE - 1);
    if end > start {
        // SAFETY: the range lies inside a block the allocator just handed
        // out to us; MADV_HUGEPAGE changes how it is backed, not its
        // contents, and a refusal (old kernel, THP off) is harmless.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

/// Counts a block the allocator just handed out (of `size` requested
/// bytes) and, when it is large, advises it for huge pages before anything
/// touches it. `p` must be that block, live.
#[inline]
unsafe fn took(p: *mut u8, size: usize) {
    count(usable(p));
    if size >= HUGE_PAGE {
        advise_huge(p, size);
    }
}

/// The system allocator, counting. Install in a binary with
/// `#[global_allocator] static A: inmemory::memory::CountingAlloc = inmemory::memory::CountingAlloc;`.
pub struct CountingAlloc;

/// Bytes the C allocator really reserved for `p` (size class rounding included).
#[inline]
unsafe fn usable(p: *mut u8) -> isize {
    libc::malloc_usable_size(p as *mut libc::c_void) as isize
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters are only bookkeeping, reading the size the allocator reports.
unsafe impl GlobalAlloc for CountingAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            took(p, layout.size());
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-usable(ptr));
        System.dealloc(ptr, layout);
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            took(p, layout.size());
        }
        p
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = usable(ptr);
        if new_size >= HUGE_PAGE && new_size > layout.size() {
            // A large block grows into a new one advised before it is
            // touched, so its pages fault in huge; `mremap` (what glibc's
            // realloc does) would carry the old 4 KiB pages along. The copy
            // costs what the growth's amortised O(1) already allows for.
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let p = System.alloc(new_layout);
            if !p.is_null() {
                took(p, new_size);
                std::ptr::copy_nonoverlapping(ptr, p, layout.size());
                count(-old);
                System.dealloc(ptr, layout);
            }
            return p;
        }
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            count(usable(p) - old);
        }
        p
    }
}

/// Adds `delta` bytes to the count without an allocation: for memory the
/// count should not hold although it is allocated (a table's empty slots,
/// see `DbShard`), and to give it back. O(1), no locked instruction.
pub fn adjust(delta: isize) {
    count(delta);
}

/// Marks the counting allocator as installed (the server binary does this),
/// and fixes glibc's mmap threshold at its initial 128 KiB. Left dynamic,
/// glibc raises it (up to 32 MiB) the first time a mapped block is freed,
/// after which the middle-sized arrays of a data set (a keyspace part of a
/// few thousand keys, a big hash's table) live in the heap, and each time
/// one grows it leaves its old copy there as a hole that small blocks fill
/// only partly. Fixed, they are mapped (and grow by `mremap` below 2 MiB,
/// by copy above, see `realloc`): 100k small
/// integer sets took 121–124 bytes of RSS per key instead of 133–136
/// (Redis 7.0: 134), with no measurable change for 1 KiB or 64 KiB values.
pub fn mark_installed() {
    INSTALLED.store(1, Ordering::Relaxed);
    // SAFETY: mallopt only changes a tuning parameter of glibc's malloc;
    // it is called once, at start, before the server's threads allocate.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
}

/// Bytes currently allocated through [`CountingAlloc`], or `None` when it
/// is not the global allocator. O(slots).
pub fn allocated() -> Option<u64> {
    if INSTALLED.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let sum: isize = COUNTERS.iter().map(|s| s.0.load(Ordering::Relaxed)).sum();
    Some(sum.max(0) as u64)
}
