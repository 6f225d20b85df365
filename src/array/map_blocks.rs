//! A user function on each block of one array: the method form of
//! [`map_blocks`](crate::map_blocks()).

use chunkwise_kernels::dtype::Element;
use ndarray::ArrayD;

use super::Array;
use crate::error::Result;
use crate::ops::map_blocks::{BlockInfo, BlockResult, MapBlocks, map_blocks};

/// User functions on blocks.
impl<T: Element> Array<T> {
    /// Applies `f` to each block (Dask's `x.map_blocks(f)`): the output has the same chunks,
    /// its element type is the one `f` returns. An `Err` from `f` becomes
    /// [`ExecError::UserFunction`](crate::ExecError::UserFunction) naming the block; a block
    /// of another shape than its input is an error too.
    ///
    /// ```
    /// let x = chunkwise::arange::<f64>(0.0, 10.0, 1.0, [3])?;
    /// let even = x.map_blocks(|b| Ok(b.mapv(|v| v as i64 % 2 == 0)))?;
    /// assert_eq!(even.compute()?.iter().filter(|&&e| e).count(), 5);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn map_blocks<U: Element>(
        &self,
        f: impl Fn(&ArrayD<T>) -> BlockResult<U> + Send + Sync + 'static,
    ) -> Result<Array<U>> {
        map_blocks(&[self], &MapBlocks::new(), move |blocks, _| f(blocks[0]))
    }

    /// Applies `f` to each block with the block's position ([`BlockInfo`]), laid out as
    /// `options` says (output chunks, dropped and new axes): see
    /// [`map_blocks`](crate::map_blocks()).
    ///
    /// ```
    /// use chunkwise::MapBlocks;
    /// use ndarray::Axis;
    /// let x = chunkwise::ones::<f32>(&[6, 4], [2, 4])?;
    /// // Row sums: axis 1 is one chunk, so each block can drop it.
    /// let sums = x.map_blocks_with(&MapBlocks::new().drop_axis([1]), |b, _| {
    ///     Ok(b.sum_axis(Axis(1)))
    /// })?;
    /// assert_eq!(sums.compute()?.into_raw_vec_and_offset().0, vec![4.0; 6]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn map_blocks_with<U: Element>(
        &self,
        options: &MapBlocks,
        f: impl Fn(&ArrayD<T>, &BlockInfo) -> BlockResult<U> + Send + Sync + 'static,
    ) -> Result<Array<U>> {
        map_blocks(&[self], options, move |blocks, info| f(blocks[0], info))
    }
}
