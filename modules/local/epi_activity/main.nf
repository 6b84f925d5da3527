// Activity of every candidate element as ABC (epi-candidates activity): DNase or ATAC and H3K27ac
// reads (BAM/CRAM) or signal (bigWig/bedGraph), RPM, geometric mean, and the promoter/genic/
// intergenic class from `genes`. `indexes` are the BAM/CRAM index files, staged beside them.
process EPI_ACTIVITY {
    tag "${meta.id}"
    label 'process_medium'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(elements), path(genes), path(dnase), path(atac), path(h3k27ac), path(indexes), path(genome), path(genome_index)

    output:
    tuple val(meta), path("${prefix}.elements.bed"), emit: elements
    path "versions.yml"                            , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def dnase_arg = dnase ? "--dnase ${dnase}" : ''
    def atac_arg = atac ? "--atac ${atac}" : ''
    def h3k27ac_arg = h3k27ac ? "--h3k27ac ${h3k27ac}" : ''
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    epi-candidates activity \\
        --elements ${elements} \\
        --genes ${genes} \\
        ${dnase_arg} \\
        ${atac_arg} \\
        ${h3k27ac_arg} \\
        --chrom-sizes ${genome} \\
        --out ${prefix}.elements.bed \\
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
    touch ${prefix}.elements.bed

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
        pysam: \$(python -c "import pysam; print(pysam.__version__)")
    END_VERSIONS
    """
}
