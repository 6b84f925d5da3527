// Candidate elements from peaks as ABC's makeCandidateRegions (epi-candidates regions). `signal`
// (DNase/ATAC BAM with its index in `signal_index`, or a bigWig/bedGraph) ranks the peaks; without
// it they rank by their own column. `include` (e.g. TSS +-250 bp) and `block` (a block-list) are
// optional BEDs; the genome (its .fai beside it) gives chromosome sizes and order.
process EPI_CANDIDATE_REGIONS {
    tag "${meta.id}"
    label 'process_medium'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(peaks), path(signal), path(signal_index), path(genome), path(genome_index), path(include), path(block)

    output:
    tuple val(meta), path("${prefix}.candidates.bed"), emit: regions
    path "versions.yml"                              , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def signal_arg = signal ? "--signal ${signal}" : ''
    def include_arg = include ? "--include ${include}" : ''
    def block_arg = block ? "--block ${block}" : ''
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    epi-candidates regions \\
        --peaks ${peaks} \\
        ${signal_arg} \\
        ${include_arg} \\
        ${block_arg} \\
        --chrom-sizes ${genome} \\
        --out ${prefix}.candidates.bed \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
        pysam: \$(python -c "import pysam; print(pysam.__version__)")
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.candidates.bed

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
        pysam: \$(python -c "import pysam; print(pysam.__version__)")
    END_VERSIONS
    """
}
