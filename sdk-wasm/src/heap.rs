//! The browser build's allocator (feature `bare`; see lib.rs): blocks of
//! power-of-two sizes, each size with a list of the freed blocks it hands
//! out again, and new blocks cut from the end of the Wasm memory, which
//! grows when they run out. Nothing is merged or given back: the SDK's
//! allocations are short strings and a few lists, bounded by its queue,
//! so a page holds at most twice its largest working set in each size.
//! About a kilobyte of the download smaller than talc (whose bins, gaps
//! and merging serve allocation patterns the SDK does not have).
//!
//! The policy (sizes, alignment, reuse) is here, over plain addresses;
//! where fresh memory comes from is the `grow` it is given: the Wasm
//! memory in the browser, a buffer in the tests.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::null_mut;

/// The smallest block: it must hold the link of the free list it joins.
const MIN_BLOCK: usize = 8;
/// Blocks are aligned to their size up to this; a layout asking for more
/// (the SDK has none) is refused.
const MAX_ALIGN: usize = 16;

/// `grow(bytes)` hands out fresh memory of at least `bytes` as the range
/// `(start, end)`, or `None` when there is no more.
pub struct Heap<G = Grow> {
    blocks: UnsafeCell<Blocks>,
    grow: G,
}

struct Blocks {
    /// Per size (its power of two), the last block freed, whose first word
    /// links to the one freed before it; 0 ends the list.
    free: [usize; usize::BITS as usize],
    /// The fresh memory not yet cut into blocks.
    next: usize,
    end: usize,
}

// SAFETY: wasm32-unknown-unknown without the atomics feature is
// single-threaded; the tests give each heap to one thread.
unsafe impl<G> Sync for Heap<G> {}

impl<G: Fn(usize) -> Option<(usize, usize)>> Heap<G> {
    pub const fn new(grow: G) -> Heap<G> {
        Heap { blocks: UnsafeCell::new(Blocks { free: [0; usize::BITS as usize], next: 0, end: 0 }), grow }
    }
}

/// The power of two of the block that holds `layout`.
fn size_class(layout: Layout) -> Option<usize> {
    if layout.align() > MAX_ALIGN {
        return None;
    }
    let size = layout.size().max(layout.align()).max(MIN_BLOCK).checked_next_power_of_two()?;
    Some(size.trailing_zeros() as usize)
}

unsafe impl<G: Fn(usize) -> Option<(usize, usize)>> GlobalAlloc for Heap<G> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: one thread, and no call here re-enters the heap.
        let blocks = unsafe { &mut *self.blocks.get() };
        let Some(class) = size_class(layout) else { return null_mut() };
        let Some(slot) = blocks.free.get_mut(class) else { return null_mut() };
        if *slot != 0 {
            let block = *slot;
            // SAFETY: a freed block of this size, whose first word links on.
            *slot = unsafe { *(block as *const usize) };
            return block as *mut u8;
        }
        let size = 1usize << class;
        let align = size.min(MAX_ALIGN) - 1;
        let mut start = (blocks.next + align) & !align;
        if blocks.end.saturating_sub(start) < size {
            let Some((from, to)) = (self.grow)(size + align) else { return null_mut() };
            // Fresh memory that does not follow on from the last starts
            // anew (the rest of the last is left unused).
            if from != blocks.end {
                blocks.next = from;
            }
            blocks.end = to;
            start = (blocks.next + align) & !align;
        }
        blocks.next = start + size;
        start as *mut u8
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        let blocks = unsafe { &mut *self.blocks.get() };
        if let Some(slot) = size_class(layout).and_then(|class| blocks.free.get_mut(class)) {
            // SAFETY: the block is the caller's to give up, and at least
            // `MIN_BLOCK` bytes, aligned for a word.
            unsafe { *(block as *mut usize) = *slot };
            *slot = block as usize;
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A string that grows within its block's size stays where it is.
        let new_layout = Layout::from_size_align(new_size, layout.align()).ok();
        if new_layout.is_some_and(|new| size_class(new) == size_class(layout)) {
            return block;
        }
        let Some(new_layout) = new_layout else { return null_mut() };
        // SAFETY: the caller's promises are `alloc`'s and `dealloc`'s.
        unsafe {
            let moved = self.alloc(new_layout);
            if !moved.is_null() {
                core::ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            moved
        }
    }
}

/// Where fresh memory comes from.
pub type Grow = fn(usize) -> Option<(usize, usize)>;

/// Grows the Wasm memory by enough pages for `bytes`.
#[cfg(all(target_arch = "wasm32", feature = "bare"))]
pub fn grow_wasm_memory(bytes: usize) -> Option<(usize, usize)> {
    const PAGE: usize = 65_536;
    let pages = bytes.div_ceil(PAGE);
    let first = core::arch::wasm32::memory_grow(0, pages);
    (first != usize::MAX).then(|| (first * PAGE, (first + pages) * PAGE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A heap over a buffer that hands out `chunk` bytes at a time.
    fn heap_over(buffer: &mut [u128], chunk: usize) -> Heap<impl Fn(usize) -> Option<(usize, usize)>> {
        let start = buffer.as_mut_ptr() as usize;
        let end = start + buffer.len() * 16;
        let used = Cell::new(start);
        Heap::new(move |bytes| {
            let from = used.get();
            let to = from + bytes.max(chunk);
            (to <= end).then(|| {
                used.set(to);
                (from, to)
            })
        })
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn blocks_are_aligned_and_do_not_overlap() {
        let mut buffer = vec![0u128; 4096];
        let heap = heap_over(&mut buffer, 1024);
        let mut taken: Vec<(usize, usize)> = Vec::new();
        for (i, size) in [1, 7, 8, 9, 24, 100, 3, 16, 5000, 2, 33, 64].into_iter().enumerate() {
            let align = [1, 2, 4, 8, 16][i % 5];
            let block = unsafe { heap.alloc(layout(size, align)) } as usize;
            assert_ne!(block, 0);
            assert_eq!(block % align, 0, "{size} bytes aligned to {align}");
            for &(other, other_size) in &taken {
                assert!(block + size <= other || other + other_size <= block, "{size} bytes overlap another block");
            }
            unsafe { core::ptr::write_bytes(block as *mut u8, 0xab, size) };
            taken.push((block, size));
        }
    }

    #[test]
    fn a_freed_block_is_handed_out_again_for_the_same_size() {
        let mut buffer = vec![0u128; 256];
        let heap = heap_over(&mut buffer, 1024);
        let first = unsafe { heap.alloc(layout(20, 1)) };
        let second = unsafe { heap.alloc(layout(20, 1)) };
        unsafe { heap.dealloc(first, layout(20, 1)) };
        unsafe { heap.dealloc(second, layout(20, 1)) };
        assert_eq!(unsafe { heap.alloc(layout(30, 1)) }, second);
        assert_eq!(unsafe { heap.alloc(layout(17, 8)) }, first);
        assert_ne!(unsafe { heap.alloc(layout(20, 1)) }, first);
    }

    #[test]
    fn a_string_growing_within_its_block_stays_and_beyond_it_moves_with_its_bytes() {
        let mut buffer = vec![0u128; 256];
        let heap = heap_over(&mut buffer, 1024);
        let block = unsafe { heap.alloc(layout(5, 1)) };
        unsafe { core::ptr::copy_nonoverlapping(b"hello".as_ptr(), block, 5) };
        assert_eq!(unsafe { heap.realloc(block, layout(5, 1), 8) }, block);
        let moved = unsafe { heap.realloc(block, layout(8, 1), 40) };
        assert_ne!(moved, block);
        assert_eq!(unsafe { core::slice::from_raw_parts(moved, 5) }, b"hello");
        assert_eq!(unsafe { heap.alloc(layout(8, 1)) }, block, "the old block is free again");
    }

    #[test]
    fn memory_is_grown_when_the_fresh_part_runs_out_and_refused_when_none_is_left() {
        let mut buffer = vec![0u128; 128];
        let heap = heap_over(&mut buffer, 1024);
        let blocks: Vec<usize> = (0..8).map(|_| unsafe { heap.alloc(layout(256, 8)) } as usize).collect();
        assert!(blocks.iter().all(|&b| b != 0));
        assert!(blocks.windows(2).all(|pair| pair[1] == pair[0] + 256), "fresh memory that follows on is used on");
        assert!(unsafe { heap.alloc(layout(1, 1)) }.is_null(), "the buffer is used up");
        assert!(unsafe { heap.alloc(layout(8, 32)) }.is_null(), "alignments above 16 are refused");
    }
}
