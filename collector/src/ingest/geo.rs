//! IP address → country, region and city, from a MaxMind-format `.mmdb`
//! file. Reads both MaxMind's GeoIP2/GeoLite2 layout (`country.iso_code`,
//! `subdivisions`, `city.names`) and the flat layout of the CC0
//! `ip-location-db` files (`country_code`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
}

pub struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
#[error("could not open the GeoIP database {path}: {message}")]
pub struct GeoDbError {
    path: String,
    message: String,
}

#[derive(Deserialize)]
struct Record {
    country_code: Option<String>,
    country: Option<IsoCode>,
    subdivisions: Option<Vec<IsoCode>>,
    city: Option<Names>,
}

#[derive(Deserialize)]
struct IsoCode {
    iso_code: Option<String>,
}

#[derive(Deserialize)]
struct Names {
    names: Option<BTreeMap<String, String>>,
}

impl GeoDb {
    pub fn open(path: &Path) -> Result<GeoDb, GeoDbError> {
        let reader = maxminddb::Reader::open_readfile(path)
            .map_err(|e| GeoDbError { path: path.display().to_string(), message: e.to_string() })?;
        Ok(GeoDb { reader })
    }

    /// Where `ip` is, as far as the database knows; empty when it does not.
    pub fn locate(&self, ip: IpAddr) -> Place {
        let Ok(found) = self.reader.lookup(ip) else { return Place::default() };
        let Ok(Some(record)) = found.decode::<Record>() else { return Place::default() };
        Place {
            country: record.country_code.or_else(|| record.country.and_then(|c| c.iso_code)),
            region: record.subdivisions.and_then(|s| s.into_iter().next()).and_then(|s| s.iso_code),
            city: record.city.and_then(|c| c.names).and_then(|mut n| n.remove("en")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CC0 database the end-to-end tests install with npm.
    fn test_db() -> GeoDb {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb");
        GeoDb::open(&path).expect("the test GeoIP database: `cargo xtask test` installs it (npm ci in tests/)")
    }

    #[test]
    fn public_addresses_have_a_country_and_private_ones_none() {
        let db = test_db();
        // 1.1.1.1 is announced by Cloudflare's Australian allocation (APNIC).
        assert_eq!(db.locate("1.1.1.1".parse().unwrap()).country.as_deref(), Some("AU"));
        assert_eq!(db.locate("8.8.8.8".parse().unwrap()).country.as_deref(), Some("US"));
        assert_eq!(db.locate("127.0.0.1".parse().unwrap()), Place::default());
        assert_eq!(db.locate("10.1.2.3".parse().unwrap()), Place::default());
    }
}
