#![allow(missing_docs)]
use chunkwise::{Chunks, Reduction, from_ndarray};
use ndarray::{ArrayD, IxDyn};
#[test]
fn scratch() {
    let mut n = ArrayD::from_elem(IxDyn(&[8, 8]), 1.0f64);
    n[[3, 0]] = f64::NAN;
    n[[0, 5]] = f64::NAN;
    let y = from_ndarray(&n, [4, 4]).unwrap();
    println!(
        "nan argmin {:?} argmax {:?}",
        y.argmin().compute().unwrap(),
        y.argmax().compute().unwrap()
    );
    let mut t = ArrayD::from_elem(IxDyn(&[4, 2, 6]), 7i32);
    t[[1, 0, 0]] = -1;
    t[[0, 0, 4]] = -1;
    let z = from_ndarray(&t, [2, 2, 3]).unwrap();
    println!(
        "3d {:?}",
        z.argmin_with(&Reduction::axes([0, 2])).compute().unwrap()
    );
    // 1 tile: fine?
    let z1 = from_ndarray(&t, [4, 2, 6]).unwrap();
    println!(
        "3d one tile {:?}",
        z1.argmin_with(&Reduction::axes([0, 2])).compute().unwrap()
    );
    let mut m = ArrayD::from_elem(IxDyn(&[2, 4]), 1.0f64);
    m[[1, 0]] = 0.0;
    m[[0, 3]] = 0.0;
    let x = from_ndarray(&m, Chunks::Shape(vec![2, 2])).unwrap();
    println!(
        "2x4 in 2x2 tiles: argmin {:?} (numpy: 3)",
        x.argmin().compute().unwrap()
    );
}
