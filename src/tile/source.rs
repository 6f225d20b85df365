//! Where tiles enter and leave a computation: sources that read them (memory, generators,
//! Zarr chunks) and sinks that store them.

use std::fmt::Debug;
use std::ops::Range;

use chunkwise_kernels::dtype::Strip;

use super::value::Value;
use crate::chunks::ChunkGrid;
use crate::error::Result;

/// A source of whole tiles.
pub(crate) trait TileSource: Send + Sync + Debug {
    /// A short name for plans.
    fn name(&self) -> String;
    /// The tile of `block`, covering `ranges` of the array.
    fn tile(&self, block: &[usize], ranges: &[Range<usize>]) -> Result<Value>;
    /// Whether [`TileSource::stream_tile`] hands the tiles of `grid` over as they are
    /// decoded, so that a reduction can fold each piece while it is in cache instead of
    /// reading the tile back from memory.
    fn streams(&self, _grid: &ChunkGrid) -> bool {
        false
    }
    /// The bytes that fetching the tile of `block` ahead of its task would hold until the
    /// task reads it (a bound), or `None` if this source does not fetch ahead (only object
    /// stores do: there a request waits on the network, not on a core).
    fn prefetch_bytes(&self, _block: &[usize], _ranges: &[Range<usize>]) -> Option<u64> {
        None
    }
    /// The stored node this source reads, as the text of its place (store, then node
    /// path): writes that must erase a node check that their computation does not read it.
    fn stored_place(&self) -> Option<String> {
        None
    }
    /// Bytes the source holds beside the tile of `block` while it reads it (such as
    /// encoded chunks): the read's scratch in the memory budget. What was fetched ahead
    /// for the tile ([`TileSource::prefetch_bytes`]) is part of it.
    fn read_bytes(&self, _block: &[usize], _ranges: &[Range<usize>]) -> u64 {
        0
    }
    /// Starts fetching what reading the tile of `block` needs, without waiting; what is
    /// fetched is kept until the returned value is dropped.
    fn prefetch(&self, _block: &[usize], _ranges: &[Range<usize>]) -> Option<Prefetched> {
        None
    }
    /// The tile of `block` handed to `receive` piece by piece, as [`TilePiece`]s. The
    /// default reads the whole tile and hands it over at once.
    fn stream_tile(
        &self,
        block: &[usize],
        ranges: &[Range<usize>],
        receive: &mut dyn FnMut(TilePiece<'_>),
    ) -> Result<()> {
        let tile = self.tile(block, ranges)?;
        receive(TilePiece::whole(&tile)?);
        Ok(())
    }
}

/// Data a source fetched ahead for a task to come, kept until this is dropped.
pub(crate) type Prefetched = Box<dyn Send + Sync>;

/// What [`TileSource::stream_tile`] hands over.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TilePiece<'a> {
    /// The tile's first elements in C order, final from here on: each prefix extends the
    /// one before, and the last is the whole tile.
    Prefix(Strip<'a>),
    /// The elements handed over so far are void: the tile starts again (a fast decoder
    /// gave up half-way and the general one takes over).
    Restart,
}

impl<'a> TilePiece<'a> {
    /// A whole array tile, handed over at once.
    pub(crate) fn whole(tile: &'a Value) -> Result<TilePiece<'a>> {
        match tile.strip() {
            Some(strip) => Ok(TilePiece::Prefix(strip)),
            None => Err(crate::error::Error::Exec(
                crate::error::ExecError::TileType {
                    expected: "an array tile in C order".into(),
                    found: tile.describe(),
                },
            )),
        }
    }
}

/// A store of whole tiles, the counterpart of [`TileSource`]: the graph hands it each
/// block's tile once (see `ops::blockwise::sink`), from any worker thread.
pub(crate) trait TileSink: Send + Sync + Debug {
    /// A short name for plans.
    fn name(&self) -> String;
    /// Whether the tile of `block` is stored already (a resumed write), so that it is
    /// neither computed nor written again.
    fn holds(&self, _block: &[usize]) -> bool {
        false
    }
    /// Stores `tile` as the tile of `block`.
    fn write(&self, block: &[usize], tile: &Value) -> Result<()>;
}
