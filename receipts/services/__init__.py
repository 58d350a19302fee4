"""Receipts' writes: issue (numbers and snapshots), production (render and store), transitions,
exports and the sweeper. Delivery is receipts.delivery; reads are receipts.selectors."""
