//! Arrays whose element type is known only at run time.

use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element, FloatElement};
use ndarray::SliceInfoElem;
use serde_json::{Map, Value as Json};

use super::cf::{CfFill, Packing};
use super::format::StoredFormat;
use super::read::{ZarrSource, dimension_names, masked_fill};
use super::store::{Handle, IntoStore, Store};
use super::write::WriteOptions;
use crate::array::Array;
use crate::chunks::ChunkGrid;
use crate::error::{BuildError, Error, Result};
use crate::exec::Report;
use crate::graph::{Node, NodeKind, Source};
use crate::ops::with_dtype;

/// A lazy array opened from storage, whose element type is known only at run time.
///
/// Check [`AnyArray::dtype`], then take a typed handle with [`AnyArray::into_typed`] (an
/// error if the type differs) or convert with [`AnyArray::astype`].
#[derive(Clone, Debug)]
pub struct AnyArray {
    node: Arc<Node>,
    dimension_names: Option<Vec<Option<String>>>,
    attributes: Map<String, Json>,
    /// The fill value xarray masks as missing: the `fill_value` in Zarr v2 (its
    /// `_FillValue` attribute where that is null), the `_FillValue` attribute in v3.
    cf_fill: Option<CfFill>,
    format: StoredFormat,
    /// Where the array is stored: its store and node path.
    stored_at: (Store, String),
}

impl AnyArray {
    /// The array stored as `array` in `store`, its element type `dtype` checked, read in
    /// tiles of `grid`.
    pub(crate) fn from_zarr(
        array: Handle,
        store: Store,
        grid: ChunkGrid,
        dtype: DType,
    ) -> Result<AnyArray> {
        let cf_fill = masked_fill(&array);
        let format = StoredFormat::of(&array)?;
        let dimension_names = dimension_names(&array);
        let attributes = array.attributes().clone();
        let stored_at = (store.clone(), array.path().to_string());
        let array = Arc::new(array);
        let source: Arc<dyn crate::tile::TileSource> =
            with_dtype!(dtype, T => Arc::new(ZarrSource::<T>::new(array.clone(), store.clone())));
        let node = Node::new(NodeKind::Source(Source::Tiles(source)), grid, dtype);
        Ok(AnyArray {
            node,
            dimension_names,
            attributes,
            cf_fill,
            format,
            stored_at,
        })
    }

    /// The array's graph node.
    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// The stored element type.
    pub fn dtype(&self) -> DType {
        self.node.dtype
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.node.shape()
    }

    /// The tile grid.
    pub fn chunks(&self) -> &ChunkGrid {
        &self.node.grid
    }

    /// Dimension names (Zarr v3 `dimension_names`, or xarray's `_ARRAY_DIMENSIONS` in v2).
    pub fn dimension_names(&self) -> Option<&[Option<String>]> {
        self.dimension_names.as_deref()
    }

    /// How the array is stored (version, chunks, shards, compression, fill value): what
    /// [`WriteOptions::keep_format`](super::WriteOptions::keep_format) writes again.
    pub fn format(&self) -> &StoredFormat {
        &self.format
    }

    /// The array's user attributes.
    pub fn attributes(&self) -> &Map<String, Json> {
        &self.attributes
    }

    /// The array's attributes for writing with another array (into
    /// [`WriteOptions::attributes`](super::WriteOptions::attributes)). They are those of
    /// [`attributes`](Self::attributes), except for the values a JSON value cannot hold
    /// exactly: zarr-python's bare `NaN` and `Infinity` (which `attributes` gives as the
    /// strings `"NaN"` and `"Infinity"`) and integers beyond 64 bits (given as floats). Here
    /// they are placeholder strings that chunkwise writes back exactly as they were stored,
    /// in this process and through its stores only: shown, compared or serialised
    /// elsewhere they read as a control character, a number and the token. Other floats
    /// are the JSON values they read as (`1.0e-300` is written `1e-300`). Reads the array's
    /// metadata again.
    ///
    /// ```
    /// use chunkwise::io::zarr::{self, WriteOptions};
    /// let dir = std::env::temp_dir().join(format!("chunkwise-doc-copyattrs-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let x = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [2])?;
    /// x.to_zarr(&dir, "x", &WriteOptions::default().attribute("valid_max", "nan"))?;
    /// // As zarr-python stores a NaN attribute (Python's JSON).
    /// let meta = dir.join("x/zarr.json");
    /// let text = std::fs::read_to_string(&meta).unwrap();
    /// std::fs::write(&meta, text.replace(r#""nan""#, "NaN")).unwrap();
    /// let x = zarr::open(&dir, "x")?;
    /// assert_eq!(x.attributes()["valid_max"], "NaN");
    /// let mut options = WriteOptions::default();
    /// options.attributes.extend(x.attributes_to_copy()?);
    /// x.to_zarr(&dir, "y", &options)?;
    /// let copied = std::fs::read_to_string(dir.join("y/zarr.json")).unwrap();
    /// assert!(copied.contains(r#""valid_max": NaN"#));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn attributes_to_copy(&self) -> Result<Map<String, Json>> {
        let (store, node_path) = &self.stored_at;
        super::hierarchy::attributes_to_copy(store, node_path, &self.attributes)
    }

    /// The typed array, if the stored type is `T`.
    pub fn into_typed<T: Element>(self) -> Result<Array<T>> {
        if self.node.dtype != T::DTYPE {
            return Err(Error::Build(BuildError::DTypeMismatch {
                expected: T::DTYPE,
                found: self.node.dtype,
            }));
        }
        Ok(Array::from_node(self.node))
    }

    /// The physical values of a CF-packed variable, as xarray's `decode_cf` gives them
    /// (`mask_and_scale`): elements equal to the fill value (the `fill_value` in Zarr v2,
    /// the `_FillValue` attribute in v3) or to a `missing_value` become NaN, the others
    /// `stored * scale_factor + add_offset` (each applied if its attribute is there),
    /// computed in `T`. Signed integers marked `_Unsigned = "true"` are read as unsigned,
    /// and unsigned ones marked `"false"` as signed.
    /// An array without these attributes is only converted to `T`.
    ///
    /// ```
    /// use chunkwise::io::zarr::{self, WriteOptions};
    /// let dir = std::env::temp_dir().join(format!("chunkwise-doc-cf-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// // Temperatures packed as i16 hundredths of a kelvin above 273.15; -32767 is missing.
    /// let packed = chunkwise::from_ndarray(&ndarray::arr1(&[0i16, 1000, -32767]).into_dyn(), [3])?;
    /// let options = WriteOptions::default()
    ///     .fill_value(-32767.0)
    ///     .attribute("scale_factor", 0.01)
    ///     .attribute("add_offset", 273.15);
    /// packed.to_zarr(&dir, "t", &options)?;
    /// let t = zarr::open(&dir, "t")?.decode_cf::<f64>()?.compute()?;
    /// assert_eq!(t[0], 273.15);
    /// assert!((t[1] - 283.15).abs() < 1e-12);
    /// assert!(t[2].is_nan());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn decode_cf<T: FloatElement>(&self) -> Result<Array<T>> {
        Packing::read(self.cf_fill.as_ref(), &self.attributes)?.decode(&self.node)
    }

    /// The elements `info` selects, as [`Array::slice`] takes them, in the stored element
    /// type (the metadata, attributes and format stay those of the stored array).
    ///
    /// ```
    /// use ndarray::s;
    /// let dir = std::env::temp_dir().join(format!("chunkwise-doc-anyslice-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let x = chunkwise::arange::<i32>(0, 10, 1, [4])?;
    /// x.to_zarr(&dir, "x", &Default::default())?;
    /// let last = chunkwise::io::zarr::open(&dir, "x")?.slice(s![-3..])?;
    /// assert_eq!(last.into_typed::<i32>()?.compute()?.as_slice().unwrap(), [7, 8, 9]);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn slice(&self, info: impl AsRef<[SliceInfoElem]>) -> Result<AnyArray> {
        Ok(AnyArray {
            node: crate::ops::slicing::slice(&self.node, info.as_ref())?,
            ..self.clone()
        })
    }

    /// Computes the array and writes it in its element type to a new Zarr array at `path`
    /// of `store`, as [`Array::to_zarr`] does (`options.keep_format(self.format())` keeps
    /// its storage format too).
    ///
    /// ```
    /// use chunkwise::io::zarr::{self, Compression, WriteOptions, ZarrVersion};
    /// let dir = std::env::temp_dir().join(format!("chunkwise-doc-anycopy-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let x = chunkwise::arange::<u16>(0, 12, 1, [5])?;
    /// let v2 = WriteOptions::default().version(ZarrVersion::V2).compression(Compression::None);
    /// x.to_zarr(&dir, "x", &v2)?;
    /// // A copy in the same element type, version, chunks and codec.
    /// let stored = zarr::open(&dir, "x")?;
    /// stored.to_zarr(&dir, "copy", &WriteOptions::default().keep_format(stored.format()))?;
    /// let copy = zarr::open(&dir, "copy")?;
    /// assert_eq!(copy.format(), stored.format());
    /// assert_eq!(copy.into_typed::<u16>()?.compute()?, x.compute()?);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn to_zarr(
        &self,
        store: impl IntoStore,
        path: &str,
        options: &WriteOptions,
    ) -> Result<Report> {
        super::write::write_new(&self.node, store.into_store()?, path, options)
    }

    /// The array converted to `T` (Rust's `as` semantics), whatever its stored type.
    pub fn astype<T: Element>(&self) -> Array<T> {
        crate::array::cast_node(self.node.clone())
    }
}
