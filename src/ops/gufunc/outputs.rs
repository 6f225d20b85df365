//! What a gufunc's function returns at one loop index, and how a task gathers those
//! returns into output tiles: any number of outputs of one element type (`Vec<ArrayD<U>>`),
//! or two outputs of two types (`(ArrayD<A>, ArrayD<B>)`, NumPy's `output_dtypes`).

use chunkwise_kernels::dtype::{DType, Element};
use ndarray::ArrayD;

use crate::tile::{Value, tile_of};

/// The core outputs of one call of a gufunc's function.
pub(crate) trait CoreOutputs: Sized + 'static {
    /// The values of each output gathered so far in a task, in C order.
    type Gathered;
    /// The element types of the `n` outputs of a signature.
    fn dtypes(n: usize) -> Vec<DType>;
    /// Empty gathered values, with room for `capacity[j]` elements of output `j`.
    fn gathered(capacity: &[usize]) -> Self::Gathered;
    /// The shapes of the outputs of this call, in order.
    fn shapes(&self) -> Vec<&[usize]>;
    /// Appends this call's values (the caller checked the shapes).
    fn append(self, to: &mut Self::Gathered);
    /// The output tiles: output `j` of `shapes[j]`.
    fn tiles(gathered: Self::Gathered, shapes: &[Vec<usize>]) -> Vec<Value>;
}

impl<U: Element> CoreOutputs for Vec<ArrayD<U>> {
    type Gathered = Vec<Vec<U>>;
    fn dtypes(n: usize) -> Vec<DType> {
        vec![U::DTYPE; n]
    }
    fn gathered(capacity: &[usize]) -> Vec<Vec<U>> {
        capacity.iter().map(|&n| Vec::with_capacity(n)).collect()
    }
    fn shapes(&self) -> Vec<&[usize]> {
        self.iter().map(|a| a.shape()).collect()
    }
    fn append(self, to: &mut Vec<Vec<U>>) {
        for (values, out) in self.iter().zip(to) {
            out.extend(values.iter().copied());
        }
    }
    fn tiles(gathered: Vec<Vec<U>>, shapes: &[Vec<usize>]) -> Vec<Value> {
        gathered
            .into_iter()
            .zip(shapes)
            .map(|(values, shape)| tile_of(values, shape))
            .collect()
    }
}

impl<A: Element, B: Element> CoreOutputs for (ArrayD<A>, ArrayD<B>) {
    type Gathered = (Vec<A>, Vec<B>);
    fn dtypes(_: usize) -> Vec<DType> {
        vec![A::DTYPE, B::DTYPE]
    }
    fn gathered(capacity: &[usize]) -> (Vec<A>, Vec<B>) {
        let room = |j: usize| capacity.get(j).copied().unwrap_or(0);
        (Vec::with_capacity(room(0)), Vec::with_capacity(room(1)))
    }
    fn shapes(&self) -> Vec<&[usize]> {
        vec![self.0.shape(), self.1.shape()]
    }
    fn append(self, to: &mut (Vec<A>, Vec<B>)) {
        to.0.extend(self.0.iter().copied());
        to.1.extend(self.1.iter().copied());
    }
    fn tiles(gathered: (Vec<A>, Vec<B>), shapes: &[Vec<usize>]) -> Vec<Value> {
        vec![
            tile_of(gathered.0, &shapes[0]),
            tile_of(gathered.1, &shapes[1]),
        ]
    }
}
