//! Manifest content negotiation. distribution serves a manifest in the media type it was pushed with
//! (it never converts between modern formats), so the only question is whether the client accepts it.

/// Whether a client sending these `Accept` header values accepts `media_type`. No `Accept` at all, an
/// empty one, `*/*` and `type/*` accept; parameters are ignored except `q=0`, which refuses.
pub fn accepts_media_type<'a>(accept: impl IntoIterator<Item = &'a str>, media_type: &str) -> bool {
    let media_type = media_type.trim();
    let (wanted_type, _) = media_type.split_once('/').unwrap_or((media_type, ""));
    let mut any_listed = false;
    for entry in accept.into_iter().flat_map(|value| value.split(',')) {
        let mut parts = entry.split(';');
        let range = parts.next().unwrap_or("").trim();
        if range.is_empty() {
            continue;
        }
        any_listed = true;
        let refused = parts.any(|parameter| {
            let parameter = parameter.trim();
            let Some(quality) = parameter
                .strip_prefix("q=")
                .or_else(|| parameter.strip_prefix("Q="))
            else {
                return false;
            };
            quality.trim().parse::<f64>().is_ok_and(|q| q <= 0.0)
        });
        if refused {
            continue;
        }
        let matches = range == "*/*"
            || range.eq_ignore_ascii_case(media_type)
            || range
                .strip_suffix("/*")
                .is_some_and(|family| family.eq_ignore_ascii_case(wanted_type));
        if matches {
            return true;
        }
    }
    !any_listed
}

#[cfg(test)]
mod tests {
    use super::*;

    const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

    #[test]
    fn negotiation() {
        fn check(accept: &[&str], media_type: &str, expected: bool) {
            assert_eq!(
                accepts_media_type(accept.iter().copied(), media_type),
                expected,
                "{accept:?} {media_type}"
            );
        }
        check(&[], OCI_INDEX, true);
        check(&[""], OCI_INDEX, true);
        check(&["*/*"], DOCKER_MANIFEST, true);
        check(&["application/*"], DOCKER_MANIFEST, true);
        check(&["text/*"], DOCKER_MANIFEST, false);
        // Docker's pull sends one header per type.
        let docker = [DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX];
        check(&docker, OCI_INDEX, true);
        check(&docker, DOCKER_LIST, true);
        // Some clients join them with commas and add qualities.
        check(
            &[&format!("{DOCKER_MANIFEST}, {OCI_MANIFEST};q=0.5")],
            OCI_MANIFEST,
            true,
        );
        check(
            &[&format!("{DOCKER_MANIFEST}, {OCI_MANIFEST}; q=0")],
            OCI_MANIFEST,
            false,
        );
        check(&[DOCKER_MANIFEST], OCI_INDEX, false);
        check(&[DOCKER_MANIFEST], DOCKER_LIST, false);
        check(&["application/json"], OCI_MANIFEST, false);
        check(&[&DOCKER_MANIFEST.to_uppercase()], DOCKER_MANIFEST, true);
    }
}
