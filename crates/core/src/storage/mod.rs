//! Object storage for what people attach (issue 27: pictures, the tongue photo): the browser
//! uploads straight to a private OSS bucket with a form the server signs, and the model reads
//! through short-lived signed URLs; nothing passes through Function Compute. So far: the
//! signature ([`oss_v4`]). The design and what is verified are in
//! `docs/research/images-on-oss/images-on-oss.md`.

pub mod oss_v4;
