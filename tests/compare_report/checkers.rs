//! The support module's own checkers on known inputs: quoted CSV fields (commas and doubled
//! quotes) and the CRC-32 of `IEND`.

use crate::support::*;

#[test]
fn csv_parser_handles_quotes() {
    let r = parse_csv("a,b\n\"x,1\",\"say \"\"hi\"\"\"\n").expect("parses");
    assert_eq!(r, vec![vec!["a", "b"], vec!["x,1", "say \"hi\""]]);
    assert_eq!(crc32(b"IEND"), 0xae42_6082);
}
