//! The oracle's craft: a real casting on the server ([`casting`]), the Zhou Yi's own text as
//! data ([`book`]), and a reading that says which texts govern the answer by a fixed
//! traditional rule ([`reading`]). The model never chooses the hexagram: it is given the
//! governing texts verbatim and told to quote only from them.

pub mod book;
pub mod casting;
pub mod reading;
